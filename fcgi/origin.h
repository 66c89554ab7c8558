/* origin.h -- whether a state-changing request comes from our own site.
 *
 * A browser names the site a request comes from in `Origin` (RFC 6454)
 * and, lately, says in `Sec-Fetch-Site` how it relates to the target. A
 * form POST from another site carries no SameSite=Lax cookie, so it looks
 * like a new visitor's; these headers are what tells it apart (OWASP's
 * "verifying origin with standard headers"). A request with neither
 * header (curl, siege, an old browser) is not judged here. */
#ifndef NORI_ORIGIN_H
#define NORI_ORIGIN_H

enum origin_err {
    ORIGIN_OK = 0,          /* same site, a listed origin, or no header */
    ORIGIN_ECROSS_SITE,     /* Sec-Fetch-Site: cross-site */
    ORIGIN_EFOREIGN,        /* Origin names another site */
    ORIGIN_EMALFORMED,      /* Origin is not scheme://host[:port] ("null") */
};

/* origin and sec_fetch_site are the request's headers, NULL when absent;
 * host its Host header (NULL when absent); allowed a list of origins
 * separated by commas or blanks ("" or NULL: none), for deployments
 * whose front end rewrites Host. */
enum origin_err origin_check(const char *origin, const char *sec_fetch_site,
                             const char *host, const char *allowed);

/* Whether origin (scheme://host[:port]) names host (a Host header,
 * host[:port]); a missing port is the scheme's default on both sides. */
int origin_matches_host(const char *origin, const char *host);
/* Whether origin is one of the list's origins (same normalisation). */
int origin_in_list(const char *origin, const char *list);
/* Whether list is well formed (every entry an origin): checked at start. */
int origin_list_valid(const char *list);

const char *origin_strerror(enum origin_err err);

#endif
