/* libFuzzer target for the SQL parser (sql/parse.c, grammar.y, lexer.re): every input is parsed
 * with a fresh arena. On success each statement is dumped (sql/ast_dump.c walks the whole tree)
 * and its invariants checked; on failure the message must be set. Sanitizers catch memory errors
 * and leaks (the lemon parser must be freed on every path); deep or long inputs must not blow
 * the stack. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "sql/ast.h"
#include "sql/ast_dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st;
    size_t n;
    sl_sql_error_t err;
    if (sl_sql_parse(&a, (const char *)data, size, &st, &n, &err) == 0) {
        if (n == 0 || n > SL_SQL_MAX_STATEMENTS) abort();
        sl_buf_t b = SL_BUF_INIT;
        for (size_t i = 0; i < n; i++) {
            if (!st[i].text || !st[i].text[0] || st[i].pos.line == 0 || st[i].pos.col == 0) abort();
            if (sl_ast_dump_stmt(&b, &st[i])) abort();
        }
        sl_buf_free(&b);
    } else {
        if (!err.message[0] || memchr(err.message, 0, sizeof(err.message)) == NULL) abort();
        if (size <= SL_SQL_MAX_TEXT && (err.pos.line == 0 || err.pos.col == 0)) abort();
    }
    sl_arena_free(&a);
    return 0;
}
