/* `sluice sql`: the SQL client. Runs the text of -e and -f (or of a piped stdin) as scripts, or,
 * when stdin is a terminal, an interactive shell on libedit. A script goes to the server whole
 * in one POST /v1/sql {"sql": TEXT}; the shell sends each statement as soon as its ';' is typed.
 * Results come back as {"results": [...]} and are printed as aligned tables, JSON, NDJSON or
 * CSV. The only SQL this file knows is where a ';' ends a statement (quotes and comments); the
 * server does the parsing and reports errors by line and column. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <histedit.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "sluice.h"

#define SQL_CELL_MAX 60            /* characters of a table cell; longer ones end in "…" */
#define SQL_HISTORY_FILE ".sluice_history"   /* in $HOME */
#define SQL_HISTORY_SIZE 1000      /* lines kept in it */
#define SQL_PROMPT "sluice> "
#define SQL_PROMPT_MORE "   ...> " /* a statement without its ';' yet */
#define SQL_ELLIPSIS "\xe2\x80\xa6" /* U+2026 */

enum { OPT_SERVER = 256, OPT_FORMAT };

typedef enum sql_format { FMT_TABLE, FMT_JSON, FMT_NDJSON, FMT_CSV } sql_format_t;

static const char sql_usage[] =
    "Usage: sluice sql [--server URL] [-e SQL]... [-f FILE]... [--format table|json|ndjson|csv]\n"
    "\n"
    "Runs SQL on the server. With -e or -f, runs each text in turn as one script and exits;\n"
    "a script stops at its first failing statement, and so does the run. With neither: an\n"
    "interactive shell when stdin is a terminal, else all of stdin is run as one script.\n"
    "\n"
    "  -e, --execute SQL     run SQL (one or more statements separated by ';')\n"
    "  -f, --file FILE       run the statements in FILE ('-' reads stdin)\n"
    "  --format FORMAT       table: aligned columns (the default when stdout is a terminal)\n"
    "                        json: each result object as the server sent it, one per line\n"
    "                              (the default otherwise)\n"
    "                        ndjson: each row as a JSON object on its own line\n"
    "                        csv: a header line, then the rows (RFC 4180)\n"
    "                        With ndjson and csv, messages such as \"created stream s\" go to\n"
    "                        stderr so that stdout holds only rows.\n"
    "  --server URL          the server (default $SLUICE_URL, else " SL_CLI_DEFAULT_URL ")\n"
    "  -h, --help            show this help\n"
    "\n"
    "In the shell a statement may span lines (prompt '   ...> ') and is sent when it ends with\n"
    "';'. \\h shows the shell's help; \\q, quit, exit or Ctrl-D leave. History is kept in\n"
    "~/" SQL_HISTORY_FILE ".\n"
    "\n"
    "Exit status: 0 every statement succeeded; 1 the server refused one (its error is printed\n"
    "as 'error: MESSAGE (line L, column C)', counted in the script's text) or could not be\n"
    "reached, or a FILE could not be read; 2 wrong usage.\n";

static const char shell_help[] =
    "Type SQL statements ending with ';' (they may span lines); each is sent to the server when\n"
    "its ';' is typed, and error positions count from the statement's first line. For example:\n"
    "  SHOW STREAMS;   DESCRIBE name;   EXPLAIN SELECT ...;\n"
    "\n"
    "  \\h, \\?                  this help\n"
    "  \\q, quit, exit, Ctrl-D   leave the shell\n"
    "  Ctrl-C                  discard the statement being typed, or stop waiting for an answer\n"
    "\n"
    "History is kept in ~/" SQL_HISTORY_FILE ".\n";

typedef struct sql_session {
    const char *cmd;               /* "sluice sql", for messages */
    sl_http_t http;
    sql_format_t format;
    int shown;                     /* what stdout got last: 0 nothing, 1 a line, 2 a table/plan */
} sql_session_t;

/* ---- input ------------------------------------------------------------------------------ */

/* The byte offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF) or is a NUL, or n if there is none. */
static size_t utf8_bad_offset(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t more;
        unsigned char lo = 0x80, hi = 0xbf;  /* the range of the second byte */
        if (c == 0) return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
        } else if (c >= 0xe0 && c <= 0xef) {  /* E0: no overlongs; ED: no surrogates */
            more = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        } else if (c >= 0xf0 && c <= 0xf4) {  /* F0: no overlongs; F4: not above U+10FFFF */
            more = 3;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        } else {
            return i;
        }
        if (n - i <= more || s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k <= more; k++)
            if ((s[i + k] & 0xc0) != 0x80) return i;
        i += more + 1;
    }
    return n;
}

/* Checks that text is UTF-8 without NULs, as the server's JSON needs; 0, or -1 with a message
 * naming where. */
static int check_text(const char *cmd, const char *what, const char *text, size_t len) {
    size_t bad = utf8_bad_offset((const unsigned char *)text, len);
    if (bad == len) return 0;
    size_t line = 1;
    for (size_t i = 0; i < bad; i++) line += text[i] == '\n';
    fprintf(stderr, "%s: %s: line %zu is not UTF-8 text (%s at byte %zu)\n", cmd, what, line,
            text[bad] ? "invalid byte" : "NUL", bad);
    return -1;
}

/* Reads all of path ("-": stdin) into out. 0, or -1 with a message printed. */
static int read_all(const char *cmd, const char *path, cli_buf_t *out) {
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    for (;;) {
        cli_buf_reserve(out, 1 << 16);
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            fprintf(stderr, "%s: cannot read %s: %s\n", cmd, fd == STDIN_FILENO ? "stdin" : path,
                    strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0) break;
        out->len += (size_t)n;
    }
    out->data[out->len] = '\0';
    if (fd != STDIN_FILENO) close(fd);
    return rc;
}

/* ---- statements ------------------------------------------------------------------------- */

/* Where the first statement of a text ends, as far as a ';' tells: the ';' counts only outside
 * '...', "..." and `...` (a doubled quote stays inside) and outside -- and / * * / comments. */
typedef struct sql_scan {
    size_t end;                    /* just past that ';', or the text's length when there is none */
    int complete;                  /* a ';' ended the statement */
    int blank;                     /* before end there are only whitespace and comments */
    int open;                      /* the text ends inside a quote or a block comment */
} sql_scan_t;

static int is_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static sql_scan_t sql_scan(const char *s, size_t len) {
    sql_scan_t r = {.blank = 1};
    char quote = 0;
    int line_comment = 0, block_comment = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i], next = i + 1 < len ? s[i + 1] : '\0';
        if (line_comment) {
            line_comment = c != '\n';
        } else if (block_comment) {
            block_comment = !(c == '*' && next == '/');
            i += !block_comment;  /* past the '/' */
        } else if (quote) {
            if (c == quote && next == quote) i++;
            else if (c == quote) quote = 0;
        } else if ((c == '-' && next == '-') || (c == '/' && next == '*')) {
            line_comment = c == '-';
            block_comment = c == '/';
            i++;
        } else if (c == ';') {
            r.end = i + 1;
            r.complete = 1;
            return r;
        } else {
            if (c == '\'' || c == '"' || c == '`') quote = c;
            if (!is_space(c)) r.blank = 0;
        }
    }
    r.end = len;
    r.open = quote || block_comment;
    return r;
}

/* 1 when text holds no statement at all (only whitespace, comments and empty ';'s). */
static int sql_blank(const char *text, size_t len) {
    for (size_t pos = 0; pos < len;) {
        sql_scan_t r = sql_scan(text + pos, len - pos);
        if (!r.blank || r.open) return 0;
        pos += r.end;
    }
    return 1;
}

/* ---- JSON and text helpers -------------------------------------------------------------- */

/* Appends v as compact JSON; numbers keep the digits the server sent. */
static void json_write(cli_buf_t *b, yajl_val v) {
    switch (v->type) {
    case yajl_t_string: cli_buf_json_string(b, v->u.string); break;
    case yajl_t_number: cli_buf_append(b, v->u.number.r, strlen(v->u.number.r)); break;
    case yajl_t_true: cli_buf_append(b, "true", 4); break;
    case yajl_t_false: cli_buf_append(b, "false", 5); break;
    case yajl_t_object:
        cli_buf_append(b, "{", 1);
        for (size_t i = 0; i < v->u.object.len; i++) {
            if (i) cli_buf_append(b, ",", 1);
            cli_buf_json_string(b, v->u.object.keys[i]);
            cli_buf_append(b, ":", 1);
            json_write(b, v->u.object.values[i]);
        }
        cli_buf_append(b, "}", 1);
        break;
    case yajl_t_array:
        cli_buf_append(b, "[", 1);
        for (size_t i = 0; i < v->u.array.len; i++) {
            if (i) cli_buf_append(b, ",", 1);
            json_write(b, v->u.array.values[i]);
        }
        cli_buf_append(b, "]", 1);
        break;
    default: cli_buf_append(b, "null", 4); break;
    }
}

/* A scalar as text (strings unquoted, NULL as `null_text`), anything else as compact JSON. */
static void value_text(cli_buf_t *b, yajl_val v, const char *null_text) {
    if (!v || YAJL_IS_NULL(v)) cli_buf_append(b, null_text, strlen(null_text));
    else if (YAJL_IS_STRING(v)) cli_buf_append(b, v->u.string, strlen(v->u.string));
    else json_write(b, v);
}

/* Characters (code points) in UTF-8 text: every byte but the continuation bytes. */
static size_t utf8_chars(const char *s, size_t n) {
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) chars += ((unsigned char)s[i] & 0xc0) != 0x80;
    return chars;
}

/* ---- results: columns ------------------------------------------------------------------- */

typedef struct sql_columns {
    size_t n;
    const char **name;
    const char **type;             /* NULL entries when the server gave none */
} sql_columns_t;

/* The result's columns in the order of its "columns" array (objects {"name","type"} or plain
 * names); without one, the keys of the first row. */
static void columns_of(yajl_val result, yajl_val rows, sql_columns_t *cols) {
    yajl_val list = sl_json_get(result, "columns");
    size_t n = 0;
    if (YAJL_IS_ARRAY(list)) {
        cols->name = sl_cli_xrealloc(NULL, list->u.array.len * sizeof *cols->name);
        cols->type = sl_cli_xrealloc(NULL, list->u.array.len * sizeof *cols->type);
        for (size_t i = 0; i < list->u.array.len; i++) {
            yajl_val c = list->u.array.values[i];
            const char *name = YAJL_IS_STRING(c) ? YAJL_GET_STRING(c) : sl_json_str(c, "name");
            if (!name) continue;
            cols->name[n] = name;
            cols->type[n++] = sl_json_str(c, "type");
        }
    } else if (rows->u.array.len > 0 && YAJL_IS_OBJECT(rows->u.array.values[0])) {
        yajl_val first = rows->u.array.values[0];
        cols->name = sl_cli_xrealloc(NULL, first->u.object.len * sizeof *cols->name);
        cols->type = sl_cli_xrealloc(NULL, first->u.object.len * sizeof *cols->type);
        for (; n < first->u.object.len; n++) {
            cols->name[n] = first->u.object.keys[n];
            cols->type[n] = NULL;
        }
    }
    cols->n = n;
}

static void columns_free(sql_columns_t *cols) {
    free(cols->name);
    free(cols->type);
}

/* row[name]; rows usually list their keys in column order, so position `hint` is tried first. */
static yajl_val row_get(yajl_val row, const char *name, size_t hint) {
    if (!YAJL_IS_OBJECT(row)) return NULL;
    if (hint < row->u.object.len && strcmp(row->u.object.keys[hint], name) == 0)
        return row->u.object.values[hint];
    return sl_json_get(row, name);
}

/* SQL types whose values line up on the right: BIGINT, DOUBLE, INTEGER, DECIMAL(10,2), ... */
static int type_numeric(const char *type) {
    static const char *const numeric[] = {"TINYINT", "SMALLINT", "INT",     "INTEGER", "BIGINT",
                                          "REAL",    "FLOAT",    "DOUBLE",  "DECIMAL", "NUMERIC"};
    if (!type) return 0;
    size_t n = strcspn(type, "( ");
    for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++)
        if (strlen(numeric[i]) == n && strncasecmp(type, numeric[i], n) == 0) return 1;
    return 0;
}

/* ---- results: table --------------------------------------------------------------------- */

typedef struct sql_cell {
    char *text;                    /* one line, at most SQL_CELL_MAX characters */
    size_t chars;
} sql_cell_t;

/* The cell for raw[0..n): control characters escaped (\n, \t, \r, \xHH) so that it stays on
 * one line, then cut to SQL_CELL_MAX characters, the last one an ellipsis. */
static sql_cell_t cell_make(const char *raw, size_t n) {
    cli_buf_t b = {0};
    cli_buf_reserve(&b, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c >= 0x20 && c != 0x7f) cli_buf_append(&b, raw + i, 1);
        else if (c == '\n') cli_buf_append(&b, "\\n", 2);
        else if (c == '\t') cli_buf_append(&b, "\\t", 2);
        else if (c == '\r') cli_buf_append(&b, "\\r", 2);
        else cli_buf_printf(&b, "\\x%02x", c);
    }
    sql_cell_t cell = {.chars = utf8_chars(b.data, b.len)};
    if (cell.chars > SQL_CELL_MAX) {
        size_t keep = 0, chars = 0;
        while (chars < SQL_CELL_MAX - 1 || ((unsigned char)b.data[keep] & 0xc0) == 0x80) {
            chars += ((unsigned char)b.data[keep] & 0xc0) != 0x80;
            keep++;
        }
        b.len = keep;
        cli_buf_append(&b, SQL_ELLIPSIS, sizeof SQL_ELLIPSIS - 1);
        cell.chars = SQL_CELL_MAX;
    }
    cell.text = b.data;
    return cell;
}

static void put_spaces(size_t n) {
    while (n--) putchar(' ');
}

/* Prints rows as psql's aligned format without the box: a header, dashes, the rows (numbers on
 * the right, the rest on the left, NULL as NULL), two spaces between columns, no trailing
 * blanks, then "(N rows)". */
static void print_table(const sql_columns_t *cols, yajl_val rows) {
    size_t nrows = rows->u.array.len, ncols = cols->n;
    sql_cell_t *cells = sl_cli_xrealloc(NULL, (nrows + 1) * ncols * sizeof *cells);
    size_t *width = sl_cli_xrealloc(NULL, ncols * sizeof *width);
    unsigned char *right = sl_cli_xrealloc(NULL, ncols);
    cli_buf_t raw = {0};

    for (size_t c = 0; c < ncols; c++) {
        size_t numbers = 0, others = 0;
        cells[c] = cell_make(cols->name[c], strlen(cols->name[c]));
        width[c] = cells[c].chars;
        for (size_t r = 0; r < nrows; r++) {
            yajl_val v = row_get(rows->u.array.values[r], cols->name[c], c);
            cli_buf_reset(&raw);
            value_text(&raw, v, "NULL");
            sql_cell_t *cell = &cells[(r + 1) * ncols + c];
            *cell = cell_make(raw.data, raw.len);
            if (cell->chars > width[c]) width[c] = cell->chars;
            if (YAJL_IS_NUMBER(v)) numbers++;
            else if (v && !YAJL_IS_NULL(v)) others++;
        }
        /* A column of unknown type is numeric when all of its values are numbers. */
        right[c] = type_numeric(cols->type[c]) || (numbers > 0 && others == 0);
    }
    for (size_t r = 0; r <= nrows + 1; r++) {
        for (size_t c = 0; c < ncols; c++) {
            int last = c + 1 == ncols;
            if (c) fputs("  ", stdout);
            if (r == 1) {  /* the separator */
                for (size_t i = 0; i < width[c]; i++) putchar('-');
                continue;
            }
            const sql_cell_t *cell = &cells[(r ? r - 1 : 0) * ncols + c];
            if (right[c]) put_spaces(width[c] - cell->chars);
            fputs(cell->text, stdout);
            if (!right[c] && !last) put_spaces(width[c] - cell->chars);
        }
        if (ncols) putchar('\n');
    }
    printf("(%zu row%s)\n", nrows, nrows == 1 ? "" : "s");

    for (size_t i = 0; i < (nrows + 1) * ncols; i++) free(cells[i].text);
    free(cells);
    free(width);
    free(right);
    cli_buf_free(&raw);
}

/* ---- results: ndjson and csv ------------------------------------------------------------ */

/* Each row as one JSON object, its keys in column order (keys not in "columns" follow). */
static void print_ndjson(const sql_columns_t *cols, yajl_val rows) {
    cli_buf_t b = {0};
    for (size_t r = 0; r < rows->u.array.len; r++) {
        yajl_val row = rows->u.array.values[r];
        cli_buf_reset(&b);
        if (!YAJL_IS_OBJECT(row)) {
            json_write(&b, row);
        } else {
            int first = 1;
            cli_buf_append(&b, "{", 1);
            for (size_t c = 0; c < cols->n; c++) {
                yajl_val v = row_get(row, cols->name[c], c);
                if (!v) continue;
                if (!first) cli_buf_append(&b, ",", 1);
                first = 0;
                cli_buf_json_string(&b, cols->name[c]);
                cli_buf_append(&b, ":", 1);
                json_write(&b, v);
            }
            for (size_t k = 0; k < row->u.object.len; k++) {
                size_t c = 0;
                while (c < cols->n && strcmp(cols->name[c], row->u.object.keys[k]) != 0) c++;
                if (c < cols->n) continue;
                if (!first) cli_buf_append(&b, ",", 1);
                first = 0;
                cli_buf_json_string(&b, row->u.object.keys[k]);
                cli_buf_append(&b, ":", 1);
                json_write(&b, row->u.object.values[k]);
            }
            cli_buf_append(&b, "}", 1);
        }
        cli_buf_append(&b, "\n", 1);
        fwrite(b.data, 1, b.len, stdout);
    }
    cli_buf_free(&b);
}

/* One RFC 4180 field: quoted when it holds a comma, a quote, CR or LF, or is the empty string
 * (so that it differs from NULL, which is an empty field). */
static void csv_field(cli_buf_t *b, const char *s, size_t n, int is_null) {
    if (is_null) return;
    size_t plain = 0;
    while (plain < n && !strchr(",\"\r\n", s[plain])) plain++;
    if (n > 0 && plain == n) {
        cli_buf_append(b, s, n);
        return;
    }
    cli_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') cli_buf_append(b, "\"", 1);
        cli_buf_append(b, s + i, 1);
    }
    cli_buf_append(b, "\"", 1);
}

static void print_csv(const sql_columns_t *cols, yajl_val rows) {
    cli_buf_t b = {0}, raw = {0};
    for (size_t c = 0; c < cols->n; c++) {
        if (c) cli_buf_append(&b, ",", 1);
        csv_field(&b, cols->name[c], strlen(cols->name[c]), 0);
    }
    cli_buf_append(&b, "\r\n", 2);
    for (size_t r = 0; r < rows->u.array.len; r++) {
        for (size_t c = 0; c < cols->n; c++) {
            yajl_val v = row_get(rows->u.array.values[r], cols->name[c], c);
            if (c) cli_buf_append(&b, ",", 1);
            cli_buf_reset(&raw);
            value_text(&raw, v, "");
            csv_field(&b, raw.data, raw.len, !v || YAJL_IS_NULL(v));
        }
        cli_buf_append(&b, "\r\n", 2);
        if (b.len >= (1u << 16)) {
            fwrite(b.data, 1, b.len, stdout);
            cli_buf_reset(&b);
        }
    }
    fwrite(b.data, 1, b.len, stdout);
    cli_buf_free(&b);
    cli_buf_free(&raw);
}

/* ---- results ---------------------------------------------------------------------------- */

/* Before printing a line (block = 0) or a table or plan (block = 1) in table format: a blank
 * line between results when either is a block. */
static void separate(sql_session_t *s, int block) {
    if (s->shown == 2 || (s->shown && block)) putchar('\n');
    s->shown = block ? 2 : 1;
}

/* Prints one element of "results". */
static void print_result(sql_session_t *s, yajl_val result) {
    yajl_val rows = sl_json_get(result, "rows");
    const char *plan = sl_json_str(result, "plan");
    const char *message = sl_json_str(result, "message");

    if (s->format == FMT_JSON) {
        cli_buf_t b = {0};
        json_write(&b, result);
        cli_buf_append(&b, "\n", 1);
        fwrite(b.data, 1, b.len, stdout);
        cli_buf_free(&b);
        return;
    }
    if (YAJL_IS_ARRAY(rows)) {
        sql_columns_t cols = {0};
        columns_of(result, rows, &cols);
        if (s->format == FMT_TABLE) {
            separate(s, 1);
            print_table(&cols, rows);
        } else if (s->format == FMT_NDJSON) {
            print_ndjson(&cols, rows);
        } else {
            if (s->shown) fputs("\r\n", stdout);
            s->shown = 2;
            print_csv(&cols, rows);
        }
        columns_free(&cols);
        return;
    }
    if (plan) {
        size_t n = strlen(plan);
        if (s->format == FMT_TABLE) separate(s, 1);
        fputs(plan, stdout);
        if (n == 0 || plan[n - 1] != '\n') putchar('\n');
        return;
    }
    /* No rows: a status line. */
    if (!message) message = sl_json_str(result, "statement");
    if (!message) message = "OK";
    if (s->format == FMT_TABLE) {
        separate(s, 0);
        printf("%s\n", message);
    } else {
        fflush(stdout);
        fprintf(stderr, "%s\n", message);
    }
}

/* The server refused (a 4xx/5xx answer): "error: MESSAGE (line L, column C)" from its error
 * object, else what sl_http_print_error makes of the answer. A message that already ends with
 * that position gets it once. */
static void print_refusal(sql_session_t *s, yajl_val doc) {
    yajl_val err = sl_json_get(doc, "error");
    const char *message = sl_json_str(err, "message");
    long long line, column;
    char where[64] = "";
    if (!message) {
        sl_http_print_error(&s->http, s->cmd, NULL);
        return;
    }
    if (sl_json_int(err, "line", &line) == 0) {
        if (sl_json_int(err, "column", &column) == 0)
            snprintf(where, sizeof where, " (line %lld, column %lld)", line, column);
        else
            snprintf(where, sizeof where, " (line %lld)", line);
    }
    size_t n = strlen(message), w = strlen(where);
    if (n >= w && strcmp(message + n - w, where) == 0) where[0] = '\0';
    fprintf(stderr, "error: %s%s\n", message, where);
}

/* Sends text[0..len) as one POST /v1/sql and prints the results that came back, then the
 * refusal if there was one. SL_CLI_OK when every statement succeeded, else SL_CLI_FAIL (the
 * reason printed). */
static int sql_run(sql_session_t *s, const char *text, size_t len) {
    cli_buf_t body = {0};
    yajl_val doc = NULL;
    int rc = SL_CLI_FAIL;

    cli_buf_append(&body, "{\"sql\":\"", 8);
    if (sl_buf_json_escape(&body, text, len)) sl_cli_oom();
    cli_buf_append(&body, "\"}", 2);
    if (sl_http_do(&s->http, "POST", "/v1/sql", "application/json", body.data, body.len, s->cmd)) {
        if (sl_cli_interrupted)
            fputs("interrupted (the server may have run the statement all the same)\n", stderr);
        goto out;
    }

    int refused = s->http.status >= 300;
    doc = sl_http_json(&s->http, refused ? NULL : s->cmd);
    yajl_val results = sl_json_get(doc, "results");
    if (!refused && !doc) goto out;
    if (!refused && !YAJL_IS_ARRAY(results)) {
        fprintf(stderr, "%s: the server's answer (HTTP %ld) has no \"results\" array\n", s->cmd,
                s->http.status);
        goto out;
    }
    for (size_t i = 0; YAJL_IS_ARRAY(results) && i < results->u.array.len; i++)
        print_result(s, results->u.array.values[i]);
    fflush(stdout);
    if (refused) print_refusal(s, doc);
    else rc = SL_CLI_OK;
out:
    if (doc) yajl_tree_free(doc);
    cli_buf_free(&body);
    return rc;
}

/* ---- the interactive shell -------------------------------------------------------------- */

typedef struct shell {
    cli_buf_t text;                /* the lines typed since the main prompt */
    size_t done;                   /* text[0..done) has been sent */
} shell_t;

static char *shell_prompt(EditLine *el) {
    shell_t *sh = NULL;
    el_get(el, EL_CLIENTDATA, &sh);
    return sh && sh->text.len ? SQL_PROMPT_MORE : SQL_PROMPT;
}

static void on_sigint(int sig) {
    sl_cli_interrupted = sig;
}

/* "\q", "quit", "exit;", "\h": the shell's own commands, recognised on a line of their own at
 * the main prompt. Returns 1 to leave, 0 when the line was one of them, -1 when it is SQL. */
static int shell_command(const char *line) {
    size_t n = strlen(line);
    while (n && strchr("\n\r\t ;", line[n - 1])) n--;
    for (; n && (*line == ' ' || *line == '\t'); n--) line++;
    if ((n == 2 && memcmp(line, "\\q", 2) == 0) || (n == 4 && strncasecmp(line, "quit", 4) == 0) ||
        (n == 4 && strncasecmp(line, "exit", 4) == 0))
        return 1;
    if (n == 2 && (memcmp(line, "\\h", 2) == 0 || memcmp(line, "\\?", 2) == 0)) {
        fputs(shell_help, stdout);
        return 0;
    }
    if (n >= 1 && line[0] == '\\') {
        printf("unknown command '%.*s' (\\h for help)\n", (int)n, line);
        return 0;
    }
    return -1;
}

/* Sends every statement of sh->text that has ended since the last call, one request each. */
static void shell_run_statements(sql_session_t *s, shell_t *sh) {
    for (;;) {
        sql_scan_t r = sql_scan(sh->text.data + sh->done, sh->text.len - sh->done);
        if (!r.complete) {
            if (r.blank && !r.open) {  /* back to the main prompt */
                cli_buf_reset(&sh->text);
                sh->done = 0;
            }
            return;
        }
        size_t start = sh->done, end = sh->done + r.end;
        sh->done = end;
        if (r.blank) continue;
        while (start < end && is_space(sh->text.data[start])) start++;
        s->shown = 0;
        sl_cli_interrupted = 0;
        sql_run(s, sh->text.data + start, end - start);
        fflush(stdout);
        if (sl_cli_interrupted) {
            cli_buf_reset(&sh->text);
            sh->done = 0;
            return;
        }
    }
}

/* $HOME/.sluice_history (malloc'd), or NULL without a HOME. */
static char *history_path(void) {
    const char *home = getenv("HOME");
    if (!home || !*home) return NULL;
    cli_buf_t path = {0};
    cli_buf_printf(&path, "%s/%s", home, SQL_HISTORY_FILE);
    return path.data;
}

/* The interactive shell: reads lines with libedit until \q, quit, exit or Ctrl-D, and runs each
 * statement when its ';' has been typed. Refusals are printed and the shell goes on, so it
 * returns SL_CLI_OK unless the line editor cannot start. */
static int sql_shell(sql_session_t *s) {
    shell_t sh = {0};
    HistEvent ev;
    FILE *out = isatty(STDOUT_FILENO) ? stdout : stderr;
    EditLine *el = NULL;
    History *hist = NULL;
    char *hist_path = NULL;
    struct sigaction sa;
    int rc = SL_CLI_FAIL;

    /* libedit decodes what is typed by LC_CTYPE; SQL text is UTF-8 whatever the locale is. */
    setlocale(LC_CTYPE, "");
    if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0) setlocale(LC_CTYPE, "C.UTF-8");
    if (!(hist = history_init()) || !(el = el_init("sluice", stdin, out, stderr))) {
        fprintf(stderr, "%s: cannot start the line editor\n", s->cmd);
        goto out;
    }
    hist_path = history_path();
    history(hist, &ev, H_SETSIZE, SQL_HISTORY_SIZE);
    history(hist, &ev, H_SETUNIQUE, 1);
    if (hist_path) history(hist, &ev, H_LOAD, hist_path);
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_HIST, history, hist);
    el_set(el, EL_CLIENTDATA, &sh);
    el_set(el, EL_PROMPT, shell_prompt);
    el_set(el, EL_SIGNAL, 1);
    el_source(el, NULL);

    /* Ctrl-C interrupts el_gets (no SA_RESTART) or the request in flight, not the shell. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    s->http.interruptible = 1;

    fprintf(out, "sluice %s SQL shell on %s. End statements with ';'; \\h for help, \\q to quit.\n",
            SLUICE_VERSION, s->http.base);
    fflush(out);
    for (;;) {
        int count = 0;
        sl_cli_interrupted = 0;
        const char *line = el_gets(el, &count);
        if (!line || count <= 0) {
            if (sl_cli_interrupted) {  /* Ctrl-C: drop what was typed, prompt anew */
                fputc('\n', out);
                cli_buf_reset(&sh.text);
                sh.done = 0;
                continue;
            }
            fputc('\n', out);  /* Ctrl-D */
            break;
        }
        size_t n = (size_t)count;
        if (n > 1 || line[0] != '\n') {
            cli_buf_t entry = {0};
            cli_buf_append(&entry, line, line[n - 1] == '\n' ? n - 1 : n);
            history(hist, &ev, H_ENTER, entry.data);
            cli_buf_free(&entry);
        }
        if (sh.text.len == 0) {
            int cmd = shell_command(line);
            if (cmd == 1) break;
            if (cmd == 0) continue;
        }
        cli_buf_append(&sh.text, line, n);
        if (line[n - 1] != '\n') cli_buf_append(&sh.text, "\n", 1);
        shell_run_statements(s, &sh);
    }

    if (hist_path) history(hist, &ev, H_SAVE, hist_path);
    rc = SL_CLI_OK;
out:
    if (el) el_end(el);
    if (hist) history_end(hist);
    free(hist_path);
    cli_buf_free(&sh.text);
    return rc;
}

/* ---- the command ------------------------------------------------------------------------ */

typedef struct sql_input {
    const char *arg;               /* the -e text or the -f FILE */
    int is_file;
    cli_buf_t text;
} sql_input_t;

int sl_cli_sql(sl_cli_ctx_t *ctx, int argc, char **argv) {
    static char name[] = "sluice sql";
    static const struct option opts[] = {
        {"execute", required_argument, NULL, 'e'}, {"file", required_argument, NULL, 'f'},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"server", required_argument, NULL, OPT_SERVER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static const char *const formats[] = {"table", "json", "ndjson", "csv"};
    const char *cmd = name;
    sql_session_t s = {.cmd = cmd};
    sql_input_t *inputs = sl_cli_xrealloc(NULL, (size_t)argc * sizeof *inputs);
    size_t ninputs = 0;
    int format = -1, rc = SL_CLI_FAIL, c;

    argv[0] = name;
    sl_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "he:f:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(sql_usage, stdout); rc = SL_CLI_OK; goto out;
        case OPT_SERVER: ctx->server = optarg; break;
        case 'e':
        case 'f': inputs[ninputs++] = (sql_input_t){.arg = optarg, .is_file = c == 'f'}; break;
        case OPT_FORMAT:
            for (format = 3; format >= 0 && strcmp(optarg, formats[format]) != 0; format--) continue;
            if (format < 0) {
                rc = sl_cli_usage_error(cmd, "--format is table, json, ndjson or csv, not '%s'",
                                        optarg);
                goto out;
            }
            break;
        default: rc = sl_cli_try_help(cmd); goto out;
        }
    }
    if (optind < argc) {
        rc = sl_cli_usage_error(cmd, "unexpected argument '%s' (SQL goes after -e, or in a file)",
                                argv[optind]);
        goto out;
    }
    int shell = ninputs == 0 && isatty(STDIN_FILENO);
    if (ninputs == 0 && !shell) inputs[ninputs++] = (sql_input_t){.arg = "-", .is_file = 1};
    s.format = format >= 0 ? (sql_format_t)format : isatty(STDOUT_FILENO) ? FMT_TABLE : FMT_JSON;

    /* Every input is read and checked before anything runs. */
    for (size_t i = 0; i < ninputs; i++) {
        sql_input_t *in = &inputs[i];
        if (in->is_file && read_all(cmd, in->arg, &in->text)) goto out;
        if (!in->is_file) cli_buf_append(&in->text, in->arg, strlen(in->arg));
        if (check_text(cmd, in->is_file ? in->arg : "-e", in->text.data, in->text.len)) goto out;
    }
    if (sl_http_init(&s.http, ctx->server)) goto out;
    if (shell) {
        rc = sql_shell(&s);
    } else {
        rc = SL_CLI_OK;
        for (size_t i = 0; i < ninputs && rc == SL_CLI_OK; i++)
            if (!sql_blank(inputs[i].text.data, inputs[i].text.len))
                rc = sql_run(&s, inputs[i].text.data, inputs[i].text.len);
    }
    if (fflush(stdout) != 0 && errno != EPIPE) {
        fprintf(stderr, "%s: cannot write to stdout: %s\n", cmd, strerror(errno));
        rc = SL_CLI_FAIL;
    }
out:
    sl_http_free(&s.http);
    for (size_t i = 0; i < ninputs; i++) cli_buf_free(&inputs[i].text);
    free(inputs);
    return rc;
}
