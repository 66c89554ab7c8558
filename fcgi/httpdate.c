/* httpdate.c -- the HTTP-date (RFC 9110 5.6.7, IMF-fixdate) that
 * Last-Modified says and If-Modified-Since asks about. The day and month
 * names are HTTP's, whatever locale an application has set: strftime
 * and strptime would take that locale's. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http.h"

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int http_date(char *out, size_t cap, time_t t)
{
    struct tm tm;
    int n;

    if (gmtime_r(&t, &tm) == NULL)
        return -1;
    n = snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int http_date_parse(const char *s, time_t *t)
{
    char day[4], mon[4];
    struct tm tm = {0};
    int year, end = 0, m;

    if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", day, &tm.tm_mday,
               mon, &year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &end) != 7 ||
        end == 0 || s[end] != '\0')
        return -1;
    for (m = 0; m < 12 && strcmp(mon, months[m]) != 0; m++)
        ;
    if (m == 12)
        return -1;
    tm.tm_mon = m;
    tm.tm_year = year - 1900;
    *t = timegm(&tm);
    return 0;
}
