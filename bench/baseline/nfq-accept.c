/*
 * nfq-accept: the C baseline for nfqwall's benchmarks. It accepts every packet of one NFQUEUE,
 * with the same queue settings the `nfqueue` npm binding uses (copy the whole packet, no queue
 * flags, NETLINK_NO_ENOBUFS), so a benchmark can separate the cost of queueing itself from the
 * cost of judging packets in Node.
 *
 * usage: nfq-accept QUEUE [MARK] [SOCKET_BUFFER_BYTES]
 *   QUEUE                 queue number, 0..65535
 *   MARK                  0 or "-": leave the packet mark alone; otherwise every verdict sets the
 *                         packet mark to exactly MARK (decimal or 0x hex)
 *   SOCKET_BUFFER_BYTES   netlink receive buffer (default 8 MiB)
 *
 * Prints "ready queue N" on stderr once bound. On SIGTERM or SIGINT it prints
 * "packets <handled>" on stdout and exits 0. Needs CAP_NET_ADMIN, and binds the queue in the
 * network namespace it runs in.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

static volatile sig_atomic_t stop_requested;
static unsigned long long handled;
static int set_mark;
static uint32_t mark;

static void on_signal(int sig) {
	(void)sig;
	stop_requested = 1;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
	(void)msg;
	(void)data;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	uint32_t id = ph ? ntohl(ph->packet_id) : 0;
	handled++;
	if (set_mark)
		return nfq_set_verdict2(qh, id, NF_ACCEPT, mark, 0, NULL);
	return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
}

static unsigned long parse_number(const char *s, unsigned long max, const char *what) {
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || *s == '\0' || *end != '\0' || v > max) {
		fprintf(stderr, "nfq-accept: bad %s \"%s\"\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv) {
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s QUEUE [MARK] [SOCKET_BUFFER_BYTES]\n", argv[0]);
		return 2;
	}
	uint16_t queue = (uint16_t)parse_number(argv[1], 65535, "queue number");
	if (argc >= 3 && strcmp(argv[2], "-") != 0) {
		mark = (uint32_t)parse_number(argv[2], 0xffffffffUL, "mark");
		set_mark = mark != 0;
	}
	unsigned int rcvbuf = argc >= 4 ? (unsigned int)parse_number(argv[3], 0x7fffffffUL, "socket buffer size") : 8u << 20;

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: recv() must return EINTR so the loop can end */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	struct nfq_handle *h = nfq_open();
	if (!h) {
		perror("nfq_open");
		return 1;
	}
	struct nfq_q_handle *qh = nfq_create_queue(h, queue, on_packet, NULL);
	if (!qh) {
		perror("nfq_create_queue (queue taken, or not root?)");
		nfq_close(h);
		return 1;
	}
	if (nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff) < 0) {
		perror("nfq_set_mode");
		return 1;
	}
	nfnl_rcvbufsiz(nfq_nfnlh(h), rcvbuf);
	int fd = nfq_fd(h);
	int one = 1;
	/* A full socket still drops packets (counted in /proc); this only stops recv() failing. */
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);

	fprintf(stderr, "ready queue %u\n", queue);
	fflush(stderr);

	static char buf[65536 + 4096] __attribute__((aligned));
	while (!stop_requested) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n >= 0) {
			nfq_handle_packet(h, buf, (int)n);
		} else if (errno != EINTR && errno != ENOBUFS) {
			perror("recv");
			break;
		}
	}
	printf("packets %llu\n", handled);
	fflush(stdout);
	nfq_destroy_queue(qh);
	nfq_close(h);
	return 0;
}
