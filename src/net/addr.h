/* host:port parsing for listen and connect addresses. */
#ifndef BATON_NET_ADDR_H
#define BATON_NET_ADDR_H

#include <uv.h>

/* Parses "IPv4:port", "[IPv6]:port" or "localhost:port" into *out.
 * BATON_EINVAL for anything else (hostnames other than localhost are not
 * resolved: give addresses, as etcd's --initial-cluster does). */
int net_addr_parse(const char *s, struct sockaddr_storage *out)
    __attribute__((warn_unused_result));

/* Initializes tcp (the caller uv_close()s it in every case), binds and listens on
 * addr; why is set on failure (BATON_EINVAL bad address,
 * BATON_EIO bind/listen failure, e.g. the port is in use). */
int net_listen(uv_loop_t *loop, uv_tcp_t *tcp, const char *addr, uv_connection_cb cb,
               char *why, size_t why_len) __attribute__((warn_unused_result));

#endif
