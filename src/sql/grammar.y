/* The Flink SQL grammar (lemon, LALR(1)): one statement per parse; the driver (parse.c) splits
 * the input at ';' and feeds each statement's tokens, then end of input (token 0). Actions build
 * the AST of ast.h through the sl__sql_* helpers of parse.c; they never fail themselves: a
 * helper that fails records the error in the context and returns NULL, and the driver stops.
 *
 * Precedence, loosest first: OR < AND < NOT < comparison, IS, LIKE, IN, BETWEEN < || < + - <
 * * / % < unary - +. Keywords that are common column names (units, type names, DESC, ...) are
 * %fallback ID, so they are identifiers wherever the keyword could not appear; TIMESTAMP is an
 * identifier through `nm` itself (TIMESTAMP 'literal' would otherwise claim it). A keyword that
 * may follow an optional alias (LIMIT, WHERE, ...) must stay reserved: where lemon compressed
 * the alias-less reduction into a state's default action, a fallback keyword would be read as
 * the alias instead.
 * Nesting is bounded while parsing: every '(' that can nest (the `lp` symbol: all but those of a
 * CREATE STREAM column list, WITH and type precisions), CASE and prefix operator enters a level
 * in the context; its ')' / END / reduction leaves it (see sl__sql_enter). */

%include {
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sql/parse_int.h"
}

%name sl_sqlparse_
%token_prefix TK_
%token_type {sl__sql_tok_t}
%extra_argument {sl__sql_ctx_t *ctx}
/* 0 = a stack that grows on demand; the nesting limit keeps it small (see sl__sql_enter), so
 * running out only happens when malloc fails. */
%stack_size 0
%start_symbol input

%syntax_error { sl__sql_syntax_error(ctx, yymajor, &yyminor); }
%stack_overflow { sl__sql_errorf(ctx, ctx->pos, "out of memory while parsing SQL"); }
%parse_failure { sl__sql_errorf(ctx, ctx->pos, "syntax error at line %u, column %u", ctx->pos.line, ctx->pos.col); }
%parse_accept { ctx->accepted = 1; }

/* Tokens the lexer returns that no rule uses: ';' ends a statement in the driver. */
%token SEMI.

%fallback ID
  ASC DESC FILTER EXTRACT SUBSTRING TRIM POSITION BOTH LEADING TRAILING FOR TO ESCAPE
  YEAR YEARS MONTH MONTHS DAY DAYS HOUR HOURS MINUTE MINUTES SECOND SECONDS
  STREAM STREAMS TABLES VIEW VIEWS SINK SINKS QUERIES TOPIC PATH WATERMARK MATERIALIZED
  IF EXISTS EXPLAIN SHOW DESCRIBE DESCRIPTOR
  BOOLEAN BIGINT INT INTEGER SMALLINT TINYINT DOUBLE FLOAT REAL DECIMAL VARCHAR STRING CHAR
  TIMESTAMP_LTZ.

%left OR.
%left AND.
%right NOT.
%left IS LIKE IN BETWEEN EQ NE LT LE GT GE.
%left ESCAPE.
%left CONCAT.
%left PLUS MINUS.
%left STAR SLASH PERCENT.
%right UMINUS.

input ::= cmd(S). { sl__sql_accept(ctx, S); }

/* ---- statements ---------------------------------------------------------------------------- */

%type cmd {sl_ast_stmt_t *}
cmd(A) ::= select(S). {
    A = sl__sql_stmt(ctx, SL_AS_SELECT);
    if (A) A->select = S;
}
cmd(A) ::= EXPLAIN select(S). {
    A = sl__sql_stmt(ctx, SL_AS_EXPLAIN);
    if (A) A->select = S;
}
cmd(A) ::= INSERT INTO nm(N) select(S). {
    A = sl__sql_stmt(ctx, SL_AS_INSERT);
    if (A) {
        A->name = A->topic = sl__sql_ident(ctx, &N);
        A->select = S;
    }
}
cmd(A) ::= CREATE stream_kw ifnotexists(I) nm(N) LP table_elems(E) RP with_opt(W). {
    A = E;
    if (A) {
        A->name = sl__sql_ident(ctx, &N);
        A->if_not_exists = (uint8_t)I;
        sl__sql_options(ctx, A, &W);
    }
}
cmd(A) ::= CREATE MATERIALIZED VIEW ifnotexists(I) nm(N) with_opt(W) AS select(S). {
    A = sl__sql_stmt(ctx, SL_AS_CREATE_VIEW);
    if (A) {
        A->name = sl__sql_ident(ctx, &N);
        A->if_not_exists = (uint8_t)I;
        sl__sql_options(ctx, A, &W);
        A->select = S;
    }
}
cmd(A) ::= CREATE SINK ifnotexists(I) nm(N) INTO TOPIC SCONST(T) with_opt(W) AS select(S). {
    A = sl__sql_stmt(ctx, SL_AS_CREATE_SINK);
    if (A) {
        uint32_t n;
        A->name = sl__sql_ident(ctx, &N);
        A->if_not_exists = (uint8_t)I;
        A->topic = sl__sql_string(ctx, &T, &n);
        sl__sql_options(ctx, A, &W);
        A->select = S;
    }
}
cmd(A) ::= SHOW show_obj(O). {
    A = sl__sql_stmt(ctx, SL_AS_SHOW);
    if (A) A->object = (sl_ast_object_t)O;
}
cmd(A) ::= describe nm(N). {
    A = sl__sql_stmt(ctx, SL_AS_DESCRIBE);
    if (A) A->name = sl__sql_ident(ctx, &N);
}
cmd(A) ::= DROP drop_obj(O) ifexists(I) nm(N). {
    A = sl__sql_stmt(ctx, SL_AS_DROP);
    if (A) {
        A->object = (sl_ast_object_t)O;
        A->if_exists = (uint8_t)I;
        A->name = sl__sql_ident(ctx, &N);
    }
}

describe ::= DESCRIBE.
describe ::= DESC.

stream_kw ::= STREAM.
stream_kw ::= TABLE.

%type show_obj {int}
show_obj(A) ::= STREAMS. { A = SL_OBJ_STREAM; }
show_obj(A) ::= TABLES. { A = SL_OBJ_STREAM; }
show_obj(A) ::= VIEWS. { A = SL_OBJ_VIEW; }
show_obj(A) ::= MATERIALIZED VIEWS. { A = SL_OBJ_VIEW; }
show_obj(A) ::= SINKS. { A = SL_OBJ_SINK; }
show_obj(A) ::= QUERIES. { A = SL_OBJ_QUERY; }

%type drop_obj {int}
drop_obj(A) ::= STREAM. { A = SL_OBJ_STREAM; }
drop_obj(A) ::= TABLE. { A = SL_OBJ_STREAM; }
drop_obj(A) ::= VIEW. { A = SL_OBJ_VIEW; }
drop_obj(A) ::= MATERIALIZED VIEW. { A = SL_OBJ_VIEW; }
drop_obj(A) ::= SINK. { A = SL_OBJ_SINK; }

%type ifnotexists {int}
ifnotexists(A) ::= . { A = 0; }
ifnotexists(A) ::= IF NOT EXISTS. { A = 1; }

%type ifexists {int}
ifexists(A) ::= . { A = 0; }
ifexists(A) ::= IF EXISTS. { A = 1; }

/* CREATE STREAM's parenthesised list: columns and at most one WATERMARK, in any order. */
%type table_elems {sl_ast_stmt_t *}
table_elems(A) ::= nm(N) typename(T) path_opt(P). {
    A = sl__sql_stmt(ctx, SL_AS_CREATE_STREAM);
    sl__sql_column_def(ctx, A, &N, T, &P);
}
table_elems(A) ::= WATERMARK(W) FOR nm(N) AS expr(E). {
    A = sl__sql_stmt(ctx, SL_AS_CREATE_STREAM);
    sl__sql_watermark(ctx, A, W.pos, &N, E);
}
table_elems(A) ::= table_elems(A) COMMA nm(N) typename(T) path_opt(P). {
    sl__sql_column_def(ctx, A, &N, T, &P);
}
table_elems(A) ::= table_elems(A) COMMA WATERMARK(W) FOR nm(N) AS expr(E). {
    sl__sql_watermark(ctx, A, W.pos, &N, E);
}

%type path_opt {sl__sql_tok_t}
path_opt(A) ::= . { memset(&A, 0, sizeof(A)); }
path_opt(A) ::= PATH SCONST(S). { A = S; }

%type with_opt {sl__sql_vec_t}
with_opt(A) ::= . { memset(&A, 0, sizeof(A)); }
with_opt(A) ::= WITH LP options(O) RP. { A = O; }

/* A vector of sl_ast_option_t *. */
%type options {sl__sql_vec_t}
options(A) ::= option(O). {
    memset(&A, 0, sizeof(A));
    sl__sql_push_ptr(ctx, &A, O);
}
options(A) ::= options(A) COMMA option(O). { sl__sql_push_ptr(ctx, &A, O); }

%type option {sl_ast_option_t *}
option(A) ::= optkey(A) EQ optval(V). { if (A) A->value = V; }

%type optkey {sl_ast_option_t *}
optkey(A) ::= SCONST(S). { A = sl__sql_option_key(ctx, NULL, &S, 1); }
optkey(A) ::= optname(A).

%type optname {sl_ast_option_t *}
optname(A) ::= nm(N). { A = sl__sql_option_key(ctx, NULL, &N, 0); }
optname(A) ::= optname(A) DOT nm(N). { A = sl__sql_option_key(ctx, A, &N, 0); }

%type optval {const char *}
optval(A) ::= SCONST(S). { uint32_t n; A = sl__sql_string(ctx, &S, &n); }
optval(A) ::= ICONST(S). { A = sl__sql_text(ctx, &S); }
optval(A) ::= TRUE. { A = "true"; }
optval(A) ::= FALSE. { A = "false"; }

/* ---- types --------------------------------------------------------------------------------- */

%type typename {sl_type_t}
typename(A) ::= BOOLEAN. { A = SL_TYPE_BOOLEAN; }
typename(A) ::= BIGINT. { A = SL_TYPE_BIGINT; }
typename(A) ::= INT. { A = SL_TYPE_BIGINT; }
typename(A) ::= INTEGER. { A = SL_TYPE_BIGINT; }
typename(A) ::= SMALLINT. { A = SL_TYPE_BIGINT; }
typename(A) ::= TINYINT. { A = SL_TYPE_BIGINT; }
typename(A) ::= DOUBLE. { A = SL_TYPE_DOUBLE; }
typename(A) ::= FLOAT. { A = SL_TYPE_DOUBLE; }
typename(A) ::= REAL. { A = SL_TYPE_DOUBLE; }
typename(A) ::= DECIMAL. { A = SL_TYPE_DOUBLE; }
typename(A) ::= DECIMAL LP ICONST RP. { A = SL_TYPE_DOUBLE; }
typename(A) ::= DECIMAL LP ICONST COMMA ICONST RP. { A = SL_TYPE_DOUBLE; }
typename(A) ::= VARCHAR. { A = SL_TYPE_VARCHAR; }
typename(A) ::= VARCHAR LP ICONST RP. { A = SL_TYPE_VARCHAR; }
typename(A) ::= STRING. { A = SL_TYPE_VARCHAR; }
typename(A) ::= CHAR. { A = SL_TYPE_VARCHAR; }
typename(A) ::= CHAR LP ICONST RP. { A = SL_TYPE_VARCHAR; }
typename(A) ::= TIMESTAMP. { A = SL_TYPE_TIMESTAMP; }
typename(A) ::= TIMESTAMP LP ICONST RP. { A = SL_TYPE_TIMESTAMP; }
typename(A) ::= TIMESTAMP_LTZ. { A = SL_TYPE_TIMESTAMP; }
typename(A) ::= TIMESTAMP_LTZ LP ICONST RP. { A = SL_TYPE_TIMESTAMP; }
typename(A) ::= INTERVAL. { A = SL_TYPE_INTERVAL; }
typename(A) ::= INTERVAL iunit(U). {
    A = SL_TYPE_INTERVAL;
    sl__sql_interval_type(ctx, &U, &U);
}
typename(A) ::= INTERVAL iunit(U) TO iunit(V). {
    A = SL_TYPE_INTERVAL;
    sl__sql_interval_type(ctx, &U, &V);
}

/* An interval unit: the token, its unit in n (SL__UNIT_*) and text in p. */
%type iunit {sl__sql_tok_t}
iunit(A) ::= YEAR(A). { A.n = SL__UNIT_YEAR; }
iunit(A) ::= YEARS(A). { A.n = SL__UNIT_YEAR; }
iunit(A) ::= MONTH(A). { A.n = SL__UNIT_MONTH; }
iunit(A) ::= MONTHS(A). { A.n = SL__UNIT_MONTH; }
iunit(A) ::= DAY(A). { A.n = SL__UNIT_DAY; }
iunit(A) ::= DAYS(A). { A.n = SL__UNIT_DAY; }
iunit(A) ::= HOUR(A). { A.n = SL__UNIT_HOUR; }
iunit(A) ::= HOURS(A). { A.n = SL__UNIT_HOUR; }
iunit(A) ::= MINUTE(A). { A.n = SL__UNIT_MINUTE; }
iunit(A) ::= MINUTES(A). { A.n = SL__UNIT_MINUTE; }
iunit(A) ::= SECOND(A). { A.n = SL__UNIT_SECOND; }
iunit(A) ::= SECONDS(A). { A.n = SL__UNIT_SECOND; }

/* ---- queries ------------------------------------------------------------------------------- */

%type select {sl_ast_select_t *}
select(A) ::= SELECT(K) distinct_opt(D) selitems(I) from_opt(F) where_opt(W) group_opt(G)
              having_opt(H) order_opt(O) limit_opt(L). {
    A = sl__sql_select(ctx, K.pos, D, &I, F, W, &G, H, &O, L);
}

%type distinct_opt {int}
distinct_opt(A) ::= . { A = 0; }
distinct_opt(A) ::= ALL. { A = 0; }
distinct_opt(A) ::= DISTINCT. { A = 1; }

/* A vector of sl_ast_item_t. */
%type selitems {sl__sql_vec_t}
selitems(A) ::= selitem(I). {
    memset(&A, 0, sizeof(A));
    sl__sql_push_ptr(ctx, &A, I);
}
selitems(A) ::= selitems(A) COMMA selitem(I). { sl__sql_push_ptr(ctx, &A, I); }

%type selitem {sl_ast_item_t *}
selitem(A) ::= STAR(S). { A = sl__sql_item(ctx, sl__sql_star(ctx, NULL, S.pos), NULL); }
selitem(A) ::= nm(Q) DOT STAR. { A = sl__sql_item(ctx, sl__sql_star(ctx, &Q, Q.pos), NULL); }
selitem(A) ::= expr(E) as_opt(L). { A = sl__sql_item(ctx, E, &L); }

/* An alias: p = NULL when absent. */
%type as_opt {sl__sql_tok_t}
as_opt(A) ::= . { memset(&A, 0, sizeof(A)); }
as_opt(A) ::= AS nm(N). { A = N; }
as_opt(A) ::= nm(A).

%type from_opt {sl_ast_from_t *}
from_opt(A) ::= . { A = NULL; }
from_opt(A) ::= FROM from_item(F). { A = F; }

%type from_item {sl_ast_from_t *}
from_item(A) ::= nm(N) as_opt(L). { A = sl__sql_from_alias(ctx, sl__sql_from_table(ctx, &N), &L); }
from_item(A) ::= lp(P) select(S) rp as_opt(L). {
    A = sl__sql_from_alias(ctx, sl__sql_from_sub(ctx, P.pos, S), &L);
}
from_item(A) ::= TABLE(K) lp nm(F) lp tvf_input(I) COMMA DESCRIPTOR lp nm(D) rp COMMA exprlist(X) rp rp
                 as_opt(L). {
    A = sl__sql_from_alias(ctx, sl__sql_from_window(ctx, K.pos, &F, I, &D, &X), &L);
}

%type tvf_input {sl_ast_from_t *}
tvf_input(A) ::= TABLE nm(N). { A = sl__sql_from_table(ctx, &N); }
tvf_input(A) ::= lp(P) select(S) rp. { A = sl__sql_from_sub(ctx, P.pos, S); }

%type where_opt {sl_ast_expr_t *}
where_opt(A) ::= . { A = NULL; }
where_opt(A) ::= WHERE expr(E). { A = E; }

%type group_opt {sl__sql_vec_t}
group_opt(A) ::= . { memset(&A, 0, sizeof(A)); }
group_opt(A) ::= GROUP BY exprlist(L). { A = L; }

%type having_opt {sl_ast_expr_t *}
having_opt(A) ::= . { A = NULL; }
having_opt(A) ::= HAVING expr(E). { A = E; }

/* A vector of sl_ast_order_t. */
%type order_opt {sl__sql_vec_t}
order_opt(A) ::= . { memset(&A, 0, sizeof(A)); }
order_opt(A) ::= ORDER BY orderlist(L). { A = L; }

%type orderlist {sl__sql_vec_t}
orderlist(A) ::= expr(E) dir(D). {
    memset(&A, 0, sizeof(A));
    sl__sql_order(ctx, &A, E, D);
}
orderlist(A) ::= orderlist(A) COMMA expr(E) dir(D). { sl__sql_order(ctx, &A, E, D); }

%type dir {int}
dir(A) ::= . { A = 0; }
dir(A) ::= ASC. { A = 0; }
dir(A) ::= DESC. { A = 1; }

%type limit_opt {int64_t}
limit_opt(A) ::= . { A = -1; }
limit_opt(A) ::= LIMIT ICONST(T). { A = sl__sql_limit(ctx, &T); }

/* ---- expressions --------------------------------------------------------------------------- */

/* A vector of sl_ast_expr_t *. */
%type exprlist {sl__sql_vec_t}
exprlist(A) ::= expr(E). {
    memset(&A, 0, sizeof(A));
    sl__sql_push_ptr(ctx, &A, E);
}
exprlist(A) ::= exprlist(A) COMMA expr(E). { sl__sql_push_ptr(ctx, &A, E); }

%type expr {sl_ast_expr_t *}
expr(A) ::= term(A).
expr(A) ::= uminus(M) expr(E). [UMINUS] {
    A = sl__sql_unary(ctx, SL_OP_NEG, E, M.pos);
    sl__sql_leave(ctx);
}
expr(A) ::= uplus expr(E). [UMINUS] {
    A = E;
    sl__sql_leave(ctx);
}
expr(A) ::= notop(M) expr(E). [NOT] {
    A = sl__sql_unary(ctx, SL_OP_NOT, E, M.pos);
    sl__sql_leave(ctx);
}
expr(A) ::= expr(X) OR expr(Y). { A = sl__sql_binary(ctx, SL_OP_OR, X, Y); }
expr(A) ::= expr(X) AND expr(Y). { A = sl__sql_binary(ctx, SL_OP_AND, X, Y); }
expr(A) ::= expr(X) EQ expr(Y). { A = sl__sql_binary(ctx, SL_OP_EQ, X, Y); }
expr(A) ::= expr(X) NE expr(Y). { A = sl__sql_binary(ctx, SL_OP_NE, X, Y); }
expr(A) ::= expr(X) LT expr(Y). { A = sl__sql_binary(ctx, SL_OP_LT, X, Y); }
expr(A) ::= expr(X) LE expr(Y). { A = sl__sql_binary(ctx, SL_OP_LE, X, Y); }
expr(A) ::= expr(X) GT expr(Y). { A = sl__sql_binary(ctx, SL_OP_GT, X, Y); }
expr(A) ::= expr(X) GE expr(Y). { A = sl__sql_binary(ctx, SL_OP_GE, X, Y); }
expr(A) ::= expr(X) CONCAT expr(Y). { A = sl__sql_binary(ctx, SL_OP_CONCAT, X, Y); }
expr(A) ::= expr(X) PLUS expr(Y). { A = sl__sql_binary(ctx, SL_OP_ADD, X, Y); }
expr(A) ::= expr(X) MINUS expr(Y). { A = sl__sql_binary(ctx, SL_OP_SUB, X, Y); }
expr(A) ::= expr(X) STAR expr(Y). { A = sl__sql_binary(ctx, SL_OP_MUL, X, Y); }
expr(A) ::= expr(X) SLASH expr(Y). { A = sl__sql_binary(ctx, SL_OP_DIV, X, Y); }
expr(A) ::= expr(X) PERCENT expr(Y). { A = sl__sql_binary(ctx, SL_OP_MOD, X, Y); }
expr(A) ::= expr(X) IS NULL. { A = sl__sql_pred(ctx, SL_AX_IS_NULL, 0, X, NULL, NULL); }
expr(A) ::= expr(X) IS NOT NULL. [IS] { A = sl__sql_pred(ctx, SL_AX_IS_NULL, 1, X, NULL, NULL); }
expr(A) ::= expr(X) IS TRUE. { A = sl__sql_is_bool(ctx, X, 0, 1); }
expr(A) ::= expr(X) IS NOT TRUE. [IS] { A = sl__sql_is_bool(ctx, X, 1, 1); }
expr(A) ::= expr(X) IS FALSE. { A = sl__sql_is_bool(ctx, X, 0, 0); }
expr(A) ::= expr(X) IS NOT FALSE. [IS] { A = sl__sql_is_bool(ctx, X, 1, 0); }
expr(A) ::= expr(X) LIKE expr(Y). { A = sl__sql_pred(ctx, SL_AX_LIKE, 0, X, Y, NULL); }
expr(A) ::= expr(X) LIKE expr(Y) ESCAPE expr(Z). { A = sl__sql_pred(ctx, SL_AX_LIKE, 0, X, Y, Z); }
expr(A) ::= expr(X) NOT LIKE expr(Y). [LIKE] { A = sl__sql_pred(ctx, SL_AX_LIKE, 1, X, Y, NULL); }
expr(A) ::= expr(X) NOT LIKE expr(Y) ESCAPE expr(Z). [LIKE] {
    A = sl__sql_pred(ctx, SL_AX_LIKE, 1, X, Y, Z);
}
expr(A) ::= expr(X) IN lp exprlist(L) rp. { A = sl__sql_in(ctx, 0, X, &L); }
expr(A) ::= expr(X) NOT IN lp exprlist(L) rp. [IN] { A = sl__sql_in(ctx, 1, X, &L); }
expr(A) ::= expr(X) BETWEEN expr(Y) AND expr(Z). [BETWEEN] {
    A = sl__sql_pred(ctx, SL_AX_BETWEEN, 0, X, Y, Z);
}
expr(A) ::= expr(X) NOT BETWEEN expr(Y) AND expr(Z). [BETWEEN] {
    A = sl__sql_pred(ctx, SL_AX_BETWEEN, 1, X, Y, Z);
}

/* Prefix operators and brackets enter a nesting level as soon as they are read. */
%type uminus {sl__sql_tok_t}
uminus(A) ::= MINUS(A). { sl__sql_enter(ctx, A.pos); }
%type uplus {sl__sql_tok_t}
uplus(A) ::= PLUS(A). { sl__sql_enter(ctx, A.pos); }
%type notop {sl__sql_tok_t}
notop(A) ::= NOT(A). { sl__sql_enter(ctx, A.pos); }
%type lp {sl__sql_tok_t}
lp(A) ::= LP(A). { sl__sql_enter(ctx, A.pos); }
rp ::= RP. { sl__sql_leave(ctx); }
%type case_kw {sl__sql_tok_t}
case_kw(A) ::= CASE(A). { sl__sql_enter(ctx, A.pos); }

/* An identifier: bare, quoted, or a non-reserved keyword (via %fallback, or TIMESTAMP here). */
%type nm {sl__sql_tok_t}
nm(A) ::= ID(A).
nm(A) ::= TIMESTAMP(A).

/* The keywords of special call forms are also plain column names where no '(' follows. */
%type kwcol {sl__sql_tok_t}
kwcol(A) ::= EXTRACT(A).
kwcol(A) ::= SUBSTRING(A).
kwcol(A) ::= TRIM(A).
kwcol(A) ::= POSITION(A).

%type term {sl_ast_expr_t *}
term(A) ::= nm(N). { A = sl__sql_column(ctx, NULL, &N); }
term(A) ::= kwcol(N). { A = sl__sql_column(ctx, NULL, &N); }
term(A) ::= kwcol(Q) DOT nm(N). { A = sl__sql_column(ctx, &Q, &N); }
term(A) ::= nm(Q) DOT nm(N). { A = sl__sql_column(ctx, &Q, &N); }
term(A) ::= ICONST(T). { A = sl__sql_lit_int(ctx, &T); }
term(A) ::= FCONST(T). { A = sl__sql_lit_dec(ctx, &T); }
term(A) ::= SCONST(T). { A = sl__sql_lit_str(ctx, &T); }
term(A) ::= TRUE(T). { A = sl__sql_lit_simple(ctx, SL_TYPE_BOOLEAN, 1, T.pos); }
term(A) ::= FALSE(T). { A = sl__sql_lit_simple(ctx, SL_TYPE_BOOLEAN, 0, T.pos); }
term(A) ::= NULL(T). { A = sl__sql_lit_simple(ctx, SL_TYPE_NULL, 0, T.pos); }
term(A) ::= INTERVAL(K) SCONST(S) iunit(U). { A = sl__sql_lit_interval(ctx, K.pos, &S, &U, &U); }
term(A) ::= INTERVAL(K) SCONST(S) iunit(U) TO iunit(V). { A = sl__sql_lit_interval(ctx, K.pos, &S, &U, &V); }
term(A) ::= TIMESTAMP(K) SCONST(S). { A = sl__sql_lit_timestamp(ctx, K.pos, &S); }
term(A) ::= lp expr(E) rp. { A = E; }
term(A) ::= CAST(K) lp expr(E) AS typename(T) rp. { A = sl__sql_cast(ctx, K.pos, E, T); }
term(A) ::= case_kw(K) case_operand(O) when_list(W) else_opt(E) END. {
    A = sl__sql_case(ctx, K.pos, O, &W, E);
    sl__sql_leave(ctx);
}
term(A) ::= nm(N) lp rp filter_opt(F). { A = sl__sql_call_tok(ctx, &N, NULL, 0, 0, F); }
term(A) ::= nm(N) lp STAR rp filter_opt(F). { A = sl__sql_call_tok(ctx, &N, NULL, 0, 1, F); }
term(A) ::= nm(N) lp exprlist(L) rp filter_opt(F). { A = sl__sql_call_tok(ctx, &N, &L, 0, 0, F); }
term(A) ::= nm(N) lp DISTINCT exprlist(L) rp filter_opt(F). { A = sl__sql_call_tok(ctx, &N, &L, 1, 0, F); }
term(A) ::= nm(N) lp ALL exprlist(L) rp filter_opt(F). { A = sl__sql_call_tok(ctx, &N, &L, 0, 0, F); }
term(A) ::= CURRENT_TIMESTAMP(K). { A = sl__sql_call(ctx, "CURRENT_TIMESTAMP", K.pos, 0, NULL, NULL, NULL); }
term(A) ::= EXTRACT(K) lp nm(U) FROM expr(E) rp. {
    A = sl__sql_call(ctx, "EXTRACT", K.pos, 2, sl__sql_word_lit(ctx, &U), E, NULL);
}
term(A) ::= SUBSTRING(K) lp expr(S) FROM expr(I) rp. {
    A = sl__sql_call(ctx, "SUBSTRING", K.pos, 2, S, I, NULL);
}
term(A) ::= SUBSTRING(K) lp expr(S) FROM expr(I) FOR expr(N) rp. {
    A = sl__sql_call(ctx, "SUBSTRING", K.pos, 3, S, I, N);
}
term(A) ::= SUBSTRING(K) lp exprlist(L) rp. { A = sl__sql_call_tok(ctx, &K, &L, 0, 0, NULL); }
term(A) ::= TRIM(K) lp expr(S) rp. {
    A = sl__sql_call(ctx, "TRIM", K.pos, 3, sl__sql_name_lit(ctx, "BOTH", K.pos),
                     sl__sql_name_lit(ctx, " ", K.pos), S);
}
term(A) ::= TRIM(K) lp expr(C) FROM expr(S) rp. {
    A = sl__sql_call(ctx, "TRIM", K.pos, 3, sl__sql_name_lit(ctx, "BOTH", K.pos), C, S);
}
term(A) ::= TRIM(K) lp trimspec(M) FROM expr(S) rp. {
    A = sl__sql_call(ctx, "TRIM", K.pos, 3, sl__sql_word_lit(ctx, &M), sl__sql_name_lit(ctx, " ", M.pos), S);
}
term(A) ::= TRIM(K) lp trimspec(M) expr(C) FROM expr(S) rp. {
    A = sl__sql_call(ctx, "TRIM", K.pos, 3, sl__sql_word_lit(ctx, &M), C, S);
}
term(A) ::= POSITION(K) lp term(N) IN expr(H) rp. { A = sl__sql_call(ctx, "POSITION", K.pos, 2, N, H, NULL); }

%type trimspec {sl__sql_tok_t}
trimspec(A) ::= BOTH(A).
trimspec(A) ::= LEADING(A).
trimspec(A) ::= TRAILING(A).

%type filter_opt {sl_ast_expr_t *}
filter_opt(A) ::= . { A = NULL; }
filter_opt(A) ::= FILTER lp WHERE expr(E) rp. { A = E; }

%type case_operand {sl_ast_expr_t *}
case_operand(A) ::= . { A = NULL; }
case_operand(A) ::= expr(A).

/* WHEN/THEN pairs, flattened: a vector of sl_ast_expr_t *. */
%type when_list {sl__sql_vec_t}
when_list(A) ::= WHEN expr(C) THEN expr(R). {
    memset(&A, 0, sizeof(A));
    sl__sql_push_ptr(ctx, &A, C);
    sl__sql_push_ptr(ctx, &A, R);
}
when_list(A) ::= when_list(A) WHEN expr(C) THEN expr(R). {
    sl__sql_push_ptr(ctx, &A, C);
    sl__sql_push_ptr(ctx, &A, R);
}

%type else_opt {sl_ast_expr_t *}
else_opt(A) ::= . { A = NULL; }
else_opt(A) ::= ELSE expr(E). { A = E; }
