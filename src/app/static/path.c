#include "app/static/path.h"

#include <string.h>

#include "common.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int h3g_path_normalize(const char *target, char *out, size_t outlen, int *trailing_slash)
{
    size_t o = 0;
    const char *p = target;
    *trailing_slash = 0;
    if (outlen < 2 || target[0] != '/')
        return H3G_EINVAL;
    out[o++] = '/';
    /* Walk segment by segment over the decoded bytes. */
    while (*p != '\0' && *p != '?' && *p != '#') {
        char seg[256];
        size_t sl = 0;
        while (*p == '/')
            p++;
        while (*p != '\0' && *p != '?' && *p != '#' && *p != '/') {
            char c = *p++;
            if (c == '%') {
                int h = hexval(p[0]), l = h < 0 ? -1 : hexval(p[1]);
                if (h < 0 || l < 0)
                    return H3G_EINVAL;
                c = (char)(h * 16 + l);
                p += 2;
                if (c == '\0')
                    return H3G_EINVAL;
                if (c == '/') {
                    /* An encoded slash separates segments like a real one; it
                     * must not hide a ".." from the check below. */
                    break;
                }
            }
            if (sl + 1 >= sizeof(seg))
                return H3G_ELIMIT;
            seg[sl++] = c;
        }
        seg[sl] = '\0';
        if (sl == 0 || (sl == 1 && seg[0] == '.'))
            continue;
        if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            if (o == 1)
                return H3G_EINVAL; /* would climb above the root */
            o--;                   /* drop the trailing '/' */
            while (o > 0 && out[o - 1] != '/')
                o--;
            continue;
        }
        if (o + sl + 2 > outlen)
            return H3G_ELIMIT;
        memcpy(out + o, seg, sl);
        o += sl;
        out[o++] = '/';
    }
    /* The target named a directory if it ended in '/', "/." or "/..". */
    {
        size_t tl = (size_t)(p - target);
        if (target[tl - 1] == '/' || (tl >= 2 && memcmp(p - 2, "/.", 2) == 0) ||
            (tl >= 3 && memcmp(p - 3, "/..", 3) == 0))
            *trailing_slash = 1;
    }
    if (o > 1)
        o--; /* drop the trailing '/' of the last segment */
    if (o == 1)
        *trailing_slash = 1;
    out[o] = '\0';
    return 0;
}
