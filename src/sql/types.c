/* The SQL type names (types.h) as the binder's messages and DESCRIBE print them: Flink's
 * spellings where Flink has the type (TIMESTAMP(3)), the bare name otherwise. */
#include "sql/types.h"

#include <assert.h>

const char *sl_type_name(sl_type_t t) {
    switch (t) {
    case SL_TYPE_NULL: return "NULL";
    case SL_TYPE_BOOLEAN: return "BOOLEAN";
    case SL_TYPE_BIGINT: return "BIGINT";
    case SL_TYPE_DOUBLE: return "DOUBLE";
    case SL_TYPE_VARCHAR: return "VARCHAR";
    case SL_TYPE_TIMESTAMP: return "TIMESTAMP(3)";
    case SL_TYPE_INTERVAL: return "INTERVAL";
    }
    assert(!"unknown sl_type_t");
    return "?";
}
