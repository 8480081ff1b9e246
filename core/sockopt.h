/*
 * sockopt.h - socket options by name, with the kernel's granted value read back.
 *
 * Linux doubles an SO_RCVBUF/SO_SNDBUF request (the extra half is its
 * bookkeeping) and clamps it to net.core.rmem_max/wmem_max unless the
 * *FORCE variant is used (CAP_NET_ADMIN). So a set is always followed by a
 * get, and callers report both the requested and the granted size.
 */
#ifndef QSL_SOCKOPT_H
#define QSL_SOCKOPT_H

#include <stdint.h>
#include <sys/socket.h>

struct qsl_sockopt {
    const char *name;           /* qsl's name: "rcvbuf", "nodelay", ... */
    int level, optname;
    int get_optname;            /* what getsockopt reads back (SO_RCVBUF for rcvbufforce) */
    unsigned flags;
};

#define QSL_SOCKOPT_READONLY 1u
#define QSL_SOCKOPT_TCP 2u      /* meaningful on TCP sockets only */
#define QSL_SOCKOPT_LINGER 4u   /* struct linger: value = seconds, or -1 for off */

/* The option called name, or NULL. */
const struct qsl_sockopt *qsl_sockopt_find(const char *name);
/* The i-th known option (for listing), NULL past the end. */
const struct qsl_sockopt *qsl_sockopt_at(unsigned i);

/* Set an integer option; -errno on failure (-EINVAL for a read-only one). */
int qsl_sockopt_set(int fd, const struct qsl_sockopt *o, int value);
/* Read an integer option back (what the kernel granted). */
int qsl_sockopt_get(int fd, const struct qsl_sockopt *o, int *value);

/* The kernel's count of datagrams dropped on this socket (SO_MEMINFO,
 * SK_MEMINFO_DROPS): every drop, including those after the last datagram
 * received, which no sequence-gap counter and no SO_RXQ_OVFL can see. */
int qsl_sockopt_drops(int fd, uint32_t *drops);

/*
 * A list of options to apply to a socket, as a role's `sockopt=` parameter
 * writes it: "nodelay:0,rcvbuf:65536,busy_poll:50" (boolean options take 0/1).
 */
#define QSL_SOCKOPT_LIST_MAX 8

struct qsl_sockopt_list {
    const struct qsl_sockopt *opt[QSL_SOCKOPT_LIST_MAX];
    int value[QSL_SOCKOPT_LIST_MAX];
    unsigned n;
};

/* Parse text into l; 0, or -EINVAL with what is wrong in err ("" and "none" parse to no
 * option; an option given twice, or a value that is not plain digits, is wrong).
 * stream: the socket will be TCP (a TCP-only option on UDP is an error). */
int qsl_sockopt_parse_list(const char *text, int stream, struct qsl_sockopt_list *l, char *err,
                           unsigned long cap);

/* Set every option of l on fd, then read each back into granted (may be NULL).
 * 0, or the first failure's -errno, with the option's name in *failed. */
int qsl_sockopt_apply(int fd, const struct qsl_sockopt_list *l, int *granted, const char **failed);

/* "name:granted,..." of l after apply; snprintf's return. */
int qsl_sockopt_format(const struct qsl_sockopt_list *l, const int *granted, char *buf,
                       unsigned long cap);

#endif
