/*
 * tcp-connrate: new-TCP-connections-per-second load for the lab benchmark, in C so that the load
 * generator is not what limits the figure.
 *
 * usage: tcp-connrate server ADDR PORT
 *          accept and close at once, until SIGTERM/SIGINT; then prints "accepted N"
 *        tcp-connrate client ADDR PORT SECONDS [IN_FLIGHT]
 *          keep IN_FLIGHT (default 8) non-blocking connects going for SECONDS (at most 600);
 *          every completed handshake counts and is closed with a reset (SO_LINGER 0), so neither
 *          side piles up TIME_WAIT sockets; prints "connections N failed F seconds S rate R"
 *
 * IPv4 only. A connect that has not completed after 1 s is abandoned and counted as failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define MAX_IN_FLIGHT 256

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
	(void)sig;
	stop_requested = 1;
}

static double now_s(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in parse_addr(const char *ip, const char *port) {
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	char *end;
	long p = strtol(port, &end, 10);
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1 || *end != '\0' || p < 1 || p > 65535) {
		fprintf(stderr, "tcp-connrate: bad address %s:%s\n", ip, port);
		exit(2);
	}
	sa.sin_port = htons((unsigned short)p);
	return sa;
}

static int server(struct sockaddr_in sa) {
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 4096) < 0) {
		perror("bind/listen");
		return 1;
	}
	fprintf(stderr, "listening\n");
	fflush(stderr);
	unsigned long long accepted = 0;
	while (!stop_requested) {
		int s = accept(ls, NULL, NULL);
		if (s >= 0) {
			accepted++;
			close(s);
		} else if (errno != EINTR && errno != ECONNABORTED) {
			perror("accept");
			break;
		}
	}
	printf("accepted %llu\n", accepted);
	return 0;
}

struct slot {
	int fd;
	double started;
};

static int open_one(int ep, struct sockaddr_in *sa, struct slot *slot, int index) {
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -1;
	struct linger lg = {1, 0};
	setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	if (connect(s, (struct sockaddr *)sa, sizeof *sa) < 0 && errno != EINPROGRESS) {
		close(s);
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)index};
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	slot->fd = s;
	slot->started = now_s();
	return 0;
}

static int client(struct sockaddr_in sa, double seconds, int in_flight) {
	int ep = epoll_create1(0);
	struct slot slots[MAX_IN_FLIGHT];
	unsigned long long done = 0, failed = 0;
	double start = now_s(), end = start + seconds;
	for (int i = 0; i < in_flight; i++)
		if (open_one(ep, &sa, &slots[i], i) < 0)
			slots[i].fd = -1;
	struct epoll_event evs[MAX_IN_FLIGHT];
	while (!stop_requested) {
		double t = now_s();
		if (t >= end)
			break;
		int n = epoll_wait(ep, evs, in_flight, 50);
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			int err = 0;
			socklen_t len = sizeof err;
			getsockopt(slots[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err == 0)
				done++;
			else
				failed++;
			close(slots[i].fd); /* closing removes it from the epoll set */
			if (open_one(ep, &sa, &slots[i], i) < 0) {
				slots[i].fd = -1;
				failed++;
			}
		}
		t = now_s();
		for (int i = 0; i < in_flight; i++) {
			if (slots[i].fd < 0) {
				if (open_one(ep, &sa, &slots[i], i) < 0)
					failed++;
			} else if (t - slots[i].started > 1.0) {
				close(slots[i].fd);
				failed++;
				if (open_one(ep, &sa, &slots[i], i) < 0)
					slots[i].fd = -1;
			}
		}
	}
	double elapsed = now_s() - start;
	for (int i = 0; i < in_flight; i++)
		if (slots[i].fd >= 0)
			close(slots[i].fd);
	printf("connections %llu failed %llu seconds %.3f rate %.1f\n", done, failed, elapsed, (double)done / elapsed);
	return 0;
}

int main(int argc, char **argv) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && strcmp(argv[1], "server") == 0)
		return server(parse_addr(argv[2], argv[3]));
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "client") == 0) {
		double seconds = atof(argv[4]);
		int in_flight = argc == 6 ? atoi(argv[5]) : 8;
		if (seconds <= 0 || seconds > 600 || in_flight < 1 || in_flight > MAX_IN_FLIGHT) {
			fprintf(stderr, "tcp-connrate: SECONDS must be in (0, 600], IN_FLIGHT in 1..%d\n", MAX_IN_FLIGHT);
			return 2;
		}
		return client(parse_addr(argv[2], argv[3]), seconds, in_flight);
	}
	fprintf(stderr, "usage: %s server ADDR PORT | client ADDR PORT SECONDS [IN_FLIGHT]\n", argv[0]);
	return 2;
}
