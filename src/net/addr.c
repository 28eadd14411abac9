/* host:port parsing and listening sockets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/error.h"
#include "net/addr.h"

static int parse_port(const char *s, int *port)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 65535) {
        return BATON_EINVAL;
    }
    *port = (int)v;
    return 0;
}

int net_addr_parse(const char *s, struct sockaddr_storage *out)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    int port;
    if (colon == NULL || (size_t)(colon - s) >= sizeof(host) || parse_port(colon + 1, &port)) {
        return BATON_EINVAL;
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(out, 0, sizeof(*out));
    if (strcmp(host, "localhost") == 0) {
        strcpy(host, "127.0.0.1");
    }
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']') {
            return BATON_EINVAL;
        }
        host[n - 1] = '\0';
        return uv_ip6_addr(host + 1, port, (struct sockaddr_in6 *)out) ? BATON_EINVAL : 0;
    }
    return uv_ip4_addr(host, port, (struct sockaddr_in *)out) ? BATON_EINVAL : 0;
}

int net_listen(uv_loop_t *loop, uv_tcp_t *tcp, const char *addr, uv_connection_cb cb,
               char *why, size_t why_len)
{
    struct sockaddr_storage ss;
    uv_tcp_init(loop, tcp);
    if (net_addr_parse(addr, &ss) != 0) {
        snprintf(why, why_len, "invalid listen address '%s' (want host:port)", addr);
        return BATON_EINVAL;
    }
    int rv = uv_tcp_bind(tcp, (const struct sockaddr *)&ss, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)tcp, 128, cb);
    }
    if (rv != 0) {
        snprintf(why, why_len, "cannot listen on %s: %s", addr, uv_strerror(rv));
        return BATON_EIO;
    }
    return 0;
}
