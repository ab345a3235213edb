/* The config file parser and loader on arbitrary text. */
#include <stdint.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct h3g_config c;
    char err[512];
    h3g_config_defaults(&c);
    h3g_config_load_text(&c, (const char *)data, size, "fuzz.conf", err, sizeof(err));
    h3g_config_free(&c);
    return 0;
}
