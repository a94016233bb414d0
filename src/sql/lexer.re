/* The SQL lexer (re2c): turns the NUL-terminated copy of the input into lemon tokens (TK_* of
 * grammar.h). Keywords are case-insensitive; `x` and "x" are quoted identifiers (doubled quote
 * to escape), 'x' a string ('' escapes), -- and / * * / comments. Numbers: digits are ICONST,
 * with a '.' or an exponent FCONST; a number running into letters ("12ab", "1e") is an error.
 * Positions (1-based line and column, columns in UTF-8 code points) are computed on demand.
 * Errors fill sl_sql_error_t directly: "syntax error at line L, column C: <what>". */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "grammar.h"
#include "sql/parse_int.h"

void sl__sql_lex_init(sl__sql_lexer_t *lx, const char *src, size_t len) {
    assert(src && src[len] == 0);
    lx->src = lx->cur = lx->mark = src;
    lx->lim = src + len;
    lx->line = lx->col = 1;
}

sl_pos_t sl__sql_lex_pos(sl__sql_lexer_t *lx, const char *p) {
    assert(p >= lx->mark && p <= lx->lim);
    for (const char *q = lx->mark; q < p; q++) {
        if (*q == '\n') {
            lx->line++;
            lx->col = 1;
        } else if (((unsigned char)*q & 0xC0) != 0x80) {
            lx->col++;
        }
    }
    lx->mark = p;
    sl_pos_t pos = {lx->line, lx->col};
    return pos;
}

static int lex_error(sl__sql_lexer_t *lx, sl_sql_error_t *err, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int lex_error(sl__sql_lexer_t *lx, sl_sql_error_t *err, const char *at, const char *fmt, ...) {
    err->pos = sl__sql_lex_pos(lx, at);
    int n = snprintf(err->message, sizeof(err->message), "syntax error at line %u, column %u: ", err->pos.line,
                     err->pos.col);
    assert(n > 0 && (size_t)n < sizeof(err->message));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message + n, sizeof(err->message) - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int bad_char(sl__sql_lexer_t *lx, sl_sql_error_t *err, const char *at) {
    unsigned char c = (unsigned char)*at;
    if (c > 0x20 && c < 0x7f) return lex_error(lx, err, at, "invalid character '%c' (byte 0x%02X)", c, c);
    return lex_error(lx, err, at, "invalid character (byte 0x%02X)", c);
}

/*!re2c
    re2c:define:YYCTYPE = "unsigned char";
    re2c:yyfill:enable = 0;
    re2c:eof = 0;

    digit = [0-9];
    ident_start = [a-zA-Z_\x80-\xff];
    ident_char = [a-zA-Z0-9_$\x80-\xff];
    exponent = [eE] [+-]? digit+;
    decimal = (digit+ "." digit* | "." digit+) exponent? | digit+ exponent;
    numberish = (digit+ ("." digit*)? | "." digit+) ([eE] [+-]?)? (ident_char | [.])*;
    space = [ \t\r\n\f\v];
*/

int sl__sql_lex(sl__sql_lexer_t *lx, sl__sql_tok_t *tok, sl_sql_error_t *err) {
    const unsigned char *YYCURSOR = (const unsigned char *)lx->cur;
    const unsigned char *YYLIMIT = (const unsigned char *)lx->lim;
    const unsigned char *YYMARKER = YYCURSOR;
    const unsigned char *start;
    int code;
next:
    start = YYCURSOR;
    /*!re2c
        $ {
            lx->cur = lx->lim;
            tok->p = lx->lim;
            tok->n = 0;
            tok->pos = sl__sql_lex_pos(lx, lx->lim);
            return 0;
        }
        space+ { goto next; }
        "--" [^\n]* { goto next; }
        "/*" ([^*] | "*"+ [^*/])* "*"+ "/" { goto next; }
        "/*" { return lex_error(lx, err, (const char *)start, "unterminated comment (missing */)"); }

        "'" ([^'] | "''")* "'" { code = TK_SCONST; goto done; }
        "'" {
            return lex_error(lx, err, (const char *)start, "unterminated string literal (missing closing ')");
        }
        "`" ([^`] | "``")* "`" | ["] ([^"] | ["]["])* ["] {
            if (YYCURSOR - start == 2)
                return lex_error(lx, err, (const char *)start, "empty quoted identifier");
            code = TK_ID;
            goto done;
        }
        "`" | ["] {
            return lex_error(lx, err, (const char *)start, "unterminated quoted identifier (missing closing %c)",
                             *start);
        }

        digit+ { code = TK_ICONST; goto done; }
        decimal { code = TK_FCONST; goto done; }
        numberish {
            size_t n = (size_t)(YYCURSOR - start);
            return lex_error(lx, err, (const char *)start, "invalid number '%.*s%s'", n > 40 ? 40 : (int)n,
                             (const char *)start, n > 40 ? "..." : "");
        }

        'all' { code = TK_ALL; goto done; }
        'and' { code = TK_AND; goto done; }
        'as' { code = TK_AS; goto done; }
        'asc' { code = TK_ASC; goto done; }
        'between' { code = TK_BETWEEN; goto done; }
        'bigint' { code = TK_BIGINT; goto done; }
        'boolean' { code = TK_BOOLEAN; goto done; }
        'both' { code = TK_BOTH; goto done; }
        'by' { code = TK_BY; goto done; }
        'case' { code = TK_CASE; goto done; }
        'cast' { code = TK_CAST; goto done; }
        'char' { code = TK_CHAR; goto done; }
        'create' { code = TK_CREATE; goto done; }
        'current_timestamp' { code = TK_CURRENT_TIMESTAMP; goto done; }
        'day' { code = TK_DAY; goto done; }
        'days' { code = TK_DAYS; goto done; }
        'decimal' { code = TK_DECIMAL; goto done; }
        'desc' { code = TK_DESC; goto done; }
        'describe' { code = TK_DESCRIBE; goto done; }
        'descriptor' { code = TK_DESCRIPTOR; goto done; }
        'distinct' { code = TK_DISTINCT; goto done; }
        'double' { code = TK_DOUBLE; goto done; }
        'drop' { code = TK_DROP; goto done; }
        'else' { code = TK_ELSE; goto done; }
        'end' { code = TK_END; goto done; }
        'escape' { code = TK_ESCAPE; goto done; }
        'exists' { code = TK_EXISTS; goto done; }
        'explain' { code = TK_EXPLAIN; goto done; }
        'extract' { code = TK_EXTRACT; goto done; }
        'false' { code = TK_FALSE; goto done; }
        'filter' { code = TK_FILTER; goto done; }
        'float' { code = TK_FLOAT; goto done; }
        'for' { code = TK_FOR; goto done; }
        'from' { code = TK_FROM; goto done; }
        'group' { code = TK_GROUP; goto done; }
        'having' { code = TK_HAVING; goto done; }
        'hour' { code = TK_HOUR; goto done; }
        'hours' { code = TK_HOURS; goto done; }
        'if' { code = TK_IF; goto done; }
        'in' { code = TK_IN; goto done; }
        'insert' { code = TK_INSERT; goto done; }
        'int' { code = TK_INT; goto done; }
        'integer' { code = TK_INTEGER; goto done; }
        'interval' { code = TK_INTERVAL; goto done; }
        'into' { code = TK_INTO; goto done; }
        'is' { code = TK_IS; goto done; }
        'leading' { code = TK_LEADING; goto done; }
        'like' { code = TK_LIKE; goto done; }
        'limit' { code = TK_LIMIT; goto done; }
        'materialized' { code = TK_MATERIALIZED; goto done; }
        'minute' { code = TK_MINUTE; goto done; }
        'minutes' { code = TK_MINUTES; goto done; }
        'month' { code = TK_MONTH; goto done; }
        'months' { code = TK_MONTHS; goto done; }
        'not' { code = TK_NOT; goto done; }
        'null' { code = TK_NULL; goto done; }
        'or' { code = TK_OR; goto done; }
        'order' { code = TK_ORDER; goto done; }
        'path' { code = TK_PATH; goto done; }
        'position' { code = TK_POSITION; goto done; }
        'queries' { code = TK_QUERIES; goto done; }
        'real' { code = TK_REAL; goto done; }
        'second' { code = TK_SECOND; goto done; }
        'seconds' { code = TK_SECONDS; goto done; }
        'select' { code = TK_SELECT; goto done; }
        'show' { code = TK_SHOW; goto done; }
        'sink' { code = TK_SINK; goto done; }
        'sinks' { code = TK_SINKS; goto done; }
        'smallint' { code = TK_SMALLINT; goto done; }
        'stream' { code = TK_STREAM; goto done; }
        'streams' { code = TK_STREAMS; goto done; }
        'string' { code = TK_STRING; goto done; }
        'substring' { code = TK_SUBSTRING; goto done; }
        'table' { code = TK_TABLE; goto done; }
        'tables' { code = TK_TABLES; goto done; }
        'then' { code = TK_THEN; goto done; }
        'timestamp' { code = TK_TIMESTAMP; goto done; }
        'timestamp_ltz' { code = TK_TIMESTAMP_LTZ; goto done; }
        'tinyint' { code = TK_TINYINT; goto done; }
        'to' { code = TK_TO; goto done; }
        'topic' { code = TK_TOPIC; goto done; }
        'trailing' { code = TK_TRAILING; goto done; }
        'trim' { code = TK_TRIM; goto done; }
        'true' { code = TK_TRUE; goto done; }
        'varchar' { code = TK_VARCHAR; goto done; }
        'view' { code = TK_VIEW; goto done; }
        'views' { code = TK_VIEWS; goto done; }
        'watermark' { code = TK_WATERMARK; goto done; }
        'when' { code = TK_WHEN; goto done; }
        'where' { code = TK_WHERE; goto done; }
        'with' { code = TK_WITH; goto done; }
        'year' { code = TK_YEAR; goto done; }
        'years' { code = TK_YEARS; goto done; }
        ident_start ident_char* { code = TK_ID; goto done; }

        "(" { code = TK_LP; goto done; }
        ")" { code = TK_RP; goto done; }
        "," { code = TK_COMMA; goto done; }
        "." { code = TK_DOT; goto done; }
        ";" { code = TK_SEMI; goto done; }
        "*" { code = TK_STAR; goto done; }
        "+" { code = TK_PLUS; goto done; }
        "-" { code = TK_MINUS; goto done; }
        "/" { code = TK_SLASH; goto done; }
        "%" { code = TK_PERCENT; goto done; }
        "||" { code = TK_CONCAT; goto done; }
        "=" { code = TK_EQ; goto done; }
        "<>" | "!=" { code = TK_NE; goto done; }
        "<" { code = TK_LT; goto done; }
        "<=" { code = TK_LE; goto done; }
        ">" { code = TK_GT; goto done; }
        ">=" { code = TK_GE; goto done; }

        * { return bad_char(lx, err, (const char *)start); }
    */
done:
    lx->cur = (const char *)YYCURSOR;
    tok->p = (const char *)start;
    tok->n = (uint32_t)(YYCURSOR - start);
    tok->pos = sl__sql_lex_pos(lx, tok->p);
    return code;
}
