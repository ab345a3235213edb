/* Request-target to file path mapping (sans-I/O). */
#ifndef H3G_STATIC_PATH_H
#define H3G_STATIC_PATH_H

#include <stddef.h>

/* Turns the :path of a request into a normalised absolute path: the query is
 * dropped, %XX escapes decoded, "." and ".." segments resolved and repeated
 * slashes collapsed.  Returns 0, H3G_EINVAL for a malformed target (bad escape,
 * NUL, a ".." that climbs above the root) or H3G_ELIMIT if out is too small.
 * *trailing_slash is set when the path names a directory explicitly. */
int h3g_path_normalize(const char *target, char *out, size_t outlen, int *trailing_slash);

#endif
