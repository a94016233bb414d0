/* Clocks and time text. */
#ifndef SL_CORE_CLOCK_H
#define SL_CORE_CLOCK_H
#include <stddef.h>
#include <stdint.h>

int64_t sl_now_ms(void);      /* wall clock, epoch milliseconds */
uint64_t sl_mono_ms(void);    /* monotonic milliseconds */
uint64_t sl_mono_ns(void);
/* Parses an RFC 3339 date-time ("2015-07-15T00:00:00Z", "…T00:00:00.123+02:00"; 't', 'z' and
 * a space for 'T' accepted) into epoch milliseconds. 0 or -1 if malformed. */
/* Proleptic Gregorian calendar arithmetic (Howard Hinnant's algorithms), any int64 day:
 * days since 1970-01-01 of y-m-d (m, d 1-based), and back. */
int64_t sl_days_from_civil(int64_t y, int m, int d);
void sl_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int sl_parse_rfc3339(const char *s, size_t len, int64_t *out_ms);

#endif
