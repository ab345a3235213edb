/* HTTP dates and entity-tag lists from request fields. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "app/static/cond.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    time_t t;
    h3g_http_date_parse((const char *)data, size, &t);
    h3g_etag_list_match((const char *)data, size, "\"1-2-3\"", 0);
    h3g_etag_list_match((const char *)data, size, "\"1-2-3\"", 1);
    h3g_if_range_ok((const char *)data, size, "\"1-2-3\"", 784111777);
    return 0;
}
