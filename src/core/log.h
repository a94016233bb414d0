/* Logging: one line per message to stderr, "2026-11-25T12:00:00.123Z LEVEL message".
 * The level is set once at start (SLUICE_LOG_LEVEL or --log-level); below it, calls are cheap. */
#ifndef SL_CORE_LOG_H
#define SL_CORE_LOG_H

enum { SL_LOG_DEBUG = 0, SL_LOG_INFO = 1, SL_LOG_WARN = 2, SL_LOG_ERROR = 3 };

extern int sl_log_level;

void sl_log_set_level(int level);
int sl_log_parse_level(const char *s); /* "debug"|"info"|"warn"|"error" -> level, -1 if unknown */
void sl_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sl_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) >= sl_log_level) sl_log_write((level), __VA_ARGS__);                           \
    } while (0)
#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)
#define sl_info(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_warn(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_error(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)

#endif
