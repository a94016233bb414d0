/* A compact, deterministic S-expression dump of a parsed statement (ast.h), for tests and
 * debugging. One line, single spaces, no trailing newline. The shapes:
 *
 * Statements
 *   SELECT                                      a SELECT statement is its query
 *   (explain SELECT)   (insert NAME SELECT)
 *   (create-stream NAME [if-not-exists] (columns COL...) [(watermark NAME E)] [(with OPT...)])
 *       COL = (NAME TYPE) or (NAME TYPE (path 'pointer'));   OPT = (KEY 'value')
 *   (create-view NAME [if-not-exists] [(with OPT...)] SELECT)
 *   (create-sink NAME [if-not-exists] (topic 'name') [(with OPT...)] SELECT)
 *   (show streams|views|sinks|queries)   (describe NAME)   (drop stream|view|sink [if-exists] NAME)
 * Queries
 *   SELECT = (select [distinct] (items ITEM...) [(from FROM)] [(where E)] [(group-by E...)]
 *             [(having E)] [(order-by (asc E)|(desc E)...)] [(limit N)])
 *   ITEM = E or (as E ALIAS)
 *   FROM = (table NAME) | SELECT | (tumble|hop|cumulate|session FROM (descriptor COL) E...)
 *          | (as FROM ALIAS)
 * Expressions
 *   42   0.5   'it''s'   true   false   null   (interval MS)   (timestamp MS)
 *       (a DOUBLE always shows a '.' or an exponent, so 5.0 is not 5)
 *   (col NAME)   (col QUALIFIER.NAME)   *   QUALIFIER.*
 *   (neg E)   (not E)   (OP A B) for OP in + - * / % || = <> < <= > >= and or
 *   (is-null E)   (is-not-null E)   (is-true E)   (is-not-true E)   (is-false E)   (is-not-false E)
 *   (like A B [ESCAPE])   (not-like ...)   (in A E...)   (not-in ...)   (between A LO HI)   (not-between ...)
 *   (case [OPERAND] (when C R)... [(else E)])   (cast E TYPE)
 *   (call NAME [distinct] [*] ARG... [(filter E)])      COUNT(*) is (call COUNT *)
 * Names are printed as stored (without quotes); TYPE is BOOLEAN, BIGINT, DOUBLE, VARCHAR,
 * TIMESTAMP, INTERVAL or NULL.
 *
 * Example: SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0 dumps as
 *   (select (items (col auction) (col price)) (from (table bid)) (where (= (call MOD (col auction) 123) 0)))
 */
#ifndef SL_SQL_AST_DUMP_H
#define SL_SQL_AST_DUMP_H
#include "core/buf.h"
#include "sql/ast.h"

/* Appends the dump of s to out: 0, or -1 when out of memory. */
int sl_ast_dump_stmt(sl_buf_t *out, const sl_ast_stmt_t *s);

#endif
