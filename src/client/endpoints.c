/* libbaton's endpoint list: "host:port,host:port" parsed and checked once, up front. */
#include <string.h>

#include "client/internal.h"
#include "net/addr.h"

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Copies one item (without the spaces around it) into out and checks it. */
static int endpoint_take(const char *item, size_t len, char out[BATON_ADDR_MAX])
{
    while (len > 0 && is_space(*item)) {
        item++;
        len--;
    }
    while (len > 0 && is_space(item[len - 1])) {
        len--;
    }
    if (len == 0 || len >= BATON_ADDR_MAX) {
        return BATON_EINVAL;
    }
    memcpy(out, item, len);
    out[len] = '\0';
    struct sockaddr_storage ss;
    /* Only addresses the daemon itself accepts: resolving names would make a
     * client's view of the cluster depend on the resolver of the moment. */
    return net_addr_parse(out, &ss) == 0 ? 0 : BATON_EINVAL;
}

int client_endpoints_parse(const char *list, struct client_endpoints *out)
{
    out->n = 0;
    if (list == NULL) {
        return BATON_EINVAL;
    }
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (out->n == CLIENT_ENDPOINTS_MAX) {
            out->n = 0;
            return BATON_EINVAL;
        }
        if (endpoint_take(p, len, out->v[out->n]) != 0) {
            out->n = 0;
            return BATON_EINVAL;
        }
        out->n++;
        if (comma == NULL) {
            return 0;
        }
        p = comma + 1;
    }
}
