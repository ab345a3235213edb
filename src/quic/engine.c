/* The engines h3gate is built with, by the name the configuration uses. */
#include "quic/engine.h"

#include <string.h>

static const struct h3g_engine_ops *const engines[] = {
    &h3g_engine_ossl,
    &h3g_engine_ngtcp2,
};

const struct h3g_engine_ops *h3g_engine_find(const char *name)
{
    for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
        if (strcmp(engines[i]->name, name) == 0)
            return engines[i];
    return NULL;
}
