#ifndef BW_UNITS_H
#define BW_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The one parser for the units people write in the config and on the command line.
 *
 * Durations: a number with a unit, or several summed ("1h30m"). Units: us, ms, s, m, h, d, w.
 * Decimals are allowed ("1.5s"). A bare "0" is zero; any other number needs a unit, because a
 * bare "60" is ambiguous. Result in microseconds.
 *
 * Sizes: a number with an optional unit. B or none: bytes. Decimal (SI, powers of 10): KB, MB,
 * GB, TB. Binary (IEC, powers of 2): KiB, MiB, GiB, TiB. The letters are case-insensitive
 * (700mb = 700MB) except that "i" marks a binary unit. Result in bytes.
 *
 * Both return 0, or -EINVAL for text that is not such a value and -ERANGE for a value that does
 * not fit in int64_t; *ret is written only on success.
 */
int bw_parse_duration(const char *text, int64_t *ret_us);
int bw_parse_size(const char *text, int64_t *ret_bytes);

/* Time of day "HH:MM" (00:00 to 23:59) into minutes after midnight. 0 or -EINVAL. */
int bw_parse_time_of_day(const char *text, int *ret_minutes);

/*
 * Writes the shortest exact text that bw_parse_duration()/bw_parse_size() read back as the same
 * value ("1h30m", "250ms", "700MB", "2GiB", "123B") into buf. Returns buf.
 */
char *bw_format_duration(int64_t us, char *buf, size_t size);
char *bw_format_size(int64_t bytes, char *buf, size_t size);

#endif
