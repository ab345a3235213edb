/* Range parsing: an accepted range always lies inside the representation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/static/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t len = 0, first, last;
    if (size < 8)
        return 0;
    memcpy(&len, data, 8);
    len %= (1ull << 40);
    if (h3g_range_parse((const char *)data + 8, size - 8, len, &first, &last) == H3G_RANGE_OK &&
        !(first <= last && last < len))
        abort();
    return 0;
}
