/* Path normalisation: whatever goes in, what comes out stays under the root. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/static/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[4096], out[1024];
    int slash;
    if (size >= sizeof(in))
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    if (h3g_path_normalize(in, out, sizeof(out), &slash) != 0)
        return 0;
    if (out[0] != '/' || strstr(out, "//") != NULL || strstr(out, "/../") != NULL ||
        strstr(out, "/./") != NULL)
        abort();
    size_t n = strlen(out);
    if ((n >= 3 && strcmp(out + n - 3, "/..") == 0) || (n >= 2 && strcmp(out + n - 2, "/.") == 0))
        abort();
    return 0;
}
