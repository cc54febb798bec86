/*
 * xfrmshim: lets Libreswan's pluto "install" IPsec SAs on a kernel built without ESP.
 *
 * The live-test rig's kernel has XFRM (CONFIG_XFRM_USER) but no ESP, AH or IPComp
 * (CONFIG_INET_ESP is not set), so every XFRM_MSG_NEWSA / XFRM_MSG_UPDSA pluto sends for a
 * negotiated CHILD / IPsec SA fails with EPROTONOSUPPORT, and pluto then refuses the SA
 * (Libreswan 4.10 programs/pluto/ikev2_child.c: install_ipsec_sa() failing answers
 * TS_UNACCEPTABLE). Loaded into pluto with LD_PRELOAD, this library answers those requests
 * itself, as the kernel would on success:
 *
 *   XFRM_MSG_NEWSA / XFRM_MSG_UPDSA / XFRM_MSG_DELSA for ESP, AH or IPComp:
 *       an NLMSG_ERROR with error 0 (the ACK of NLM_F_ACK, RFC 3549 2.3.2.2);
 *   XFRM_MSG_GETSA for them: an XFRM_MSG_NEWSA carrying the SA id and zero counters.
 *
 * Everything else (policies, SPI allocation, routing) goes to the real kernel. Nothing is
 * changed on the wire: the IKE exchanges are pluto's own; only the data plane is missing, as
 * with strongSwan's kernel-libipsec it would be in userspace.
 *
 * Pluto talks to XFRM with write() and recvfrom() on a NETLINK_XFRM socket
 * (programs/pluto/kernel_xfrm.c sendrecv_xfrm_msg); send/sendto/recv/read are covered too.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAXFD 4096

static char xfrm_fd[MAXFD];
static struct {
	size_t len;
	char buf[sizeof(struct nlmsghdr) + sizeof(struct xfrm_usersa_info) + 64];
} pending[MAXFD];

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_read)(int, void *, size_t);
static int (*real_socket)(int, int, int);
static int (*real_close)(int);

static void init(void)
{
	if (real_write != NULL)
		return;
	real_write = dlsym(RTLD_NEXT, "write");
	real_send = dlsym(RTLD_NEXT, "send");
	real_sendto = dlsym(RTLD_NEXT, "sendto");
	real_recvfrom = dlsym(RTLD_NEXT, "recvfrom");
	real_recv = dlsym(RTLD_NEXT, "recv");
	real_read = dlsym(RTLD_NEXT, "read");
	real_socket = dlsym(RTLD_NEXT, "socket");
	real_close = dlsym(RTLD_NEXT, "close");
}

int socket(int domain, int type, int protocol)
{
	init();
	int fd = real_socket(domain, type, protocol);
	if (fd >= 0 && fd < MAXFD) {
		xfrm_fd[fd] = (domain == AF_NETLINK && protocol == NETLINK_XFRM);
		pending[fd].len = 0;
	}
	return fd;
}

int close(int fd)
{
	init();
	if (fd >= 0 && fd < MAXFD) {
		xfrm_fd[fd] = 0;
		pending[fd].len = 0;
	}
	return real_close(fd);
}

static int no_esp_type(unsigned char proto)
{
	return proto == IPPROTO_ESP || proto == IPPROTO_AH || proto == IPPROTO_COMP;
}

/* 1 when the request was answered here (its reply queued for the next read). */
static int answer(int fd, const void *data, size_t len)
{
	if (fd < 0 || fd >= MAXFD || !xfrm_fd[fd] || len < sizeof(struct nlmsghdr))
		return 0;
	const struct nlmsghdr *n = data;
	unsigned char proto;
	switch (n->nlmsg_type) {
	case XFRM_MSG_NEWSA:
	case XFRM_MSG_UPDSA:
		if (len < NLMSG_LENGTH(sizeof(struct xfrm_usersa_info)))
			return 0;
		proto = ((const struct xfrm_usersa_info *)NLMSG_DATA(n))->id.proto;
		break;
	case XFRM_MSG_DELSA:
	case XFRM_MSG_GETSA:
		if (len < NLMSG_LENGTH(sizeof(struct xfrm_usersa_id)))
			return 0;
		proto = ((const struct xfrm_usersa_id *)NLMSG_DATA(n))->proto;
		break;
	default:
		return 0;
	}
	if (!no_esp_type(proto))
		return 0;
	char *buf = pending[fd].buf;
	struct nlmsghdr *r = (struct nlmsghdr *)buf;
	memset(buf, 0, sizeof(pending[fd].buf));
	r->nlmsg_seq = n->nlmsg_seq;
	r->nlmsg_pid = 0;
	if (n->nlmsg_type == XFRM_MSG_GETSA) {
		const struct xfrm_usersa_id *id = NLMSG_DATA(n);
		struct xfrm_usersa_info *info = NLMSG_DATA(r);
		r->nlmsg_type = XFRM_MSG_NEWSA;
		r->nlmsg_len = NLMSG_LENGTH(sizeof(*info));
		info->id.daddr = id->daddr;
		info->id.spi = id->spi;
		info->id.proto = id->proto;
		info->family = id->family;
		info->curlft.add_time = (unsigned long long)time(NULL);
	} else {
		struct nlmsgerr *e = NLMSG_DATA(r);
		if (!(n->nlmsg_flags & NLM_F_ACK))
			return 1; /* success without an ACK asked for: nothing to read */
		r->nlmsg_type = NLMSG_ERROR;
		r->nlmsg_len = NLMSG_LENGTH(sizeof(*e));
		e->error = 0;
		e->msg = *n;
	}
	pending[fd].len = r->nlmsg_len;
	return 1;
}

static ssize_t take(int fd, void *buf, size_t len, struct sockaddr *from, socklen_t *fromlen)
{
	size_t n = pending[fd].len < len ? pending[fd].len : len;
	memcpy(buf, pending[fd].buf, n);
	pending[fd].len = 0;
	if (from != NULL && fromlen != NULL && *fromlen >= sizeof(struct sockaddr_nl)) {
		struct sockaddr_nl nl = {.nl_family = AF_NETLINK, .nl_pid = 0};
		memcpy(from, &nl, sizeof(nl));
		*fromlen = sizeof(nl);
	}
	return (ssize_t)n;
}

static int has_pending(int fd)
{
	return fd >= 0 && fd < MAXFD && pending[fd].len > 0;
}

ssize_t write(int fd, const void *data, size_t len)
{
	init();
	if (answer(fd, data, len))
		return (ssize_t)len;
	return real_write(fd, data, len);
}

ssize_t send(int fd, const void *data, size_t len, int flags)
{
	init();
	if (answer(fd, data, len))
		return (ssize_t)len;
	return real_send(fd, data, len, flags);
}

ssize_t sendto(int fd, const void *data, size_t len, int flags, const struct sockaddr *to, socklen_t tolen)
{
	init();
	if (answer(fd, data, len))
		return (ssize_t)len;
	return real_sendto(fd, data, len, flags, to, tolen);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *fromlen)
{
	init();
	if (has_pending(fd))
		return take(fd, buf, len, from, fromlen);
	return real_recvfrom(fd, buf, len, flags, from, fromlen);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	init();
	if (has_pending(fd))
		return take(fd, buf, len, NULL, NULL);
	return real_recv(fd, buf, len, flags);
}

ssize_t read(int fd, void *buf, size_t len)
{
	init();
	if (has_pending(fd))
		return take(fd, buf, len, NULL, NULL);
	return real_read(fd, buf, len);
}
