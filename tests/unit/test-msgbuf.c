/* test-msgbuf: the one buffering and framing layer (libmigr/msgbuf.c): output queues that
 * keep order across partial writes, input buffers that yield whole frames and records, in
 * pieces of any size, and never hold more than their bound. */
#include <config.h>

#include <fcntl.h>
#include <sys/socket.h>

#include "../../libmigr/msgbuf.h"
#include "unit.h"

static void test_outq_keeps_order_across_partial_writes(void)
{
	int sp[2];
	signal(SIGPIPE, SIG_IGN);	/* as migrd and the helpers do */
	if (!CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0))
		return;
	int small = 4096;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	struct outq q;
	outq_init(&q);
	uint8_t chunk[1000], got[200000];
	size_t sent = 0, recvd = 0;
	/* queue 100 chunks of counting bytes, flushing and reading in between */
	for (int i = 0; i < 100; i++) {
		for (size_t k = 0; k < sizeof(chunk); k++)
			chunk[k] = (uint8_t)(sent + k);
		outq_add(&q, chunk, sizeof(chunk));
		sent += sizeof(chunk);
		CHECK(outq_flush(&q, sp[0]) >= 0);
		ssize_t n = read(sp[1], got + recvd, sizeof(got) - recvd);
		if (n > 0)
			recvd += (size_t)n;
	}
	while (outq_pending(&q)) {
		CHECK(outq_flush(&q, sp[0]) >= 0);
		ssize_t n = read(sp[1], got + recvd, sizeof(got) - recvd);
		if (n > 0)
			recvd += (size_t)n;
	}
	ssize_t n;
	while ((n = read(sp[1], got + recvd, sizeof(got) - recvd)) > 0)
		recvd += (size_t)n;
	CHECK_UINT(recvd, ==, sent);
	for (size_t k = 0; k < recvd; k++)
		if (!CHECK_UINT(got[k], ==, (uint8_t)k))
			break;
	/* a peer gone: an error, not a hang */
	outq_add(&q, chunk, 10);
	close(sp[1]);
	CHECK_INT(outq_flush(&q, sp[0]), ==, -1);
	outq_free(&q);
	close(sp[0]);
}

static void test_inq_frames_in_pieces(void)
{
	int p[2];
	if (!CHECK(pipe(p) == 0))
		return;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	/* three frames, written a byte at a time: each comes out whole, once */
	struct mw w, f;
	mw_init(&w);
	for (int i = 0; i < 3; i++) {
		mw_init(&f);
		mw_frame_begin(&f, MSG_CTL_OK);
		mw_u32(&f, (uint32_t)i);
		mw_frame_end(&f);
		mw_bytes(&w, f.buf, f.len);
		mw_free(&f);
	}
	struct inq q;
	inq_init(&q, MIGR_FRAME_HDR + 64);
	int frames = 0;
	for (size_t at = 0; at < w.len; at++) {
		CHECK(write(p[1], w.buf + at, 1) == 1);
		CHECK(inq_fill(&q, p[0]) == 1);
		struct migr_frame_hdr h;
		int r;
		while ((r = inq_frame(&q, &h)) == 1) {
			CHECK_UINT(h.len, ==, 4);
			CHECK_UINT(inq_data(&q)[MIGR_FRAME_HDR], ==, (uint8_t)frames);
			inq_consume(&q, MIGR_FRAME_HDR + h.len);
			frames++;
		}
		CHECK_INT(r, ==, 0);
	}
	CHECK_INT(frames, ==, 3);
	CHECK_UINT(inq_avail(&q), ==, 0);
	/* a header announcing more than the bound: refused before anything is allocated */
	uint8_t big[MIGR_FRAME_HDR];
	migr_hdr_encode(big, MSG_CTL_OK, 65);
	CHECK(write(p[1], big, sizeof(big)) == (ssize_t)sizeof(big));
	inq_fill(&q, p[0]);
	struct migr_frame_hdr h;
	CHECK_INT(inq_frame(&q, &h), ==, MIGR_ETOOBIG);
	mw_free(&w);
	inq_free(&q);
	close(p[0]);
	close(p[1]);
}

static void test_inq_records_and_bounds(void)
{
	int p[2];
	if (!CHECK(pipe(p) == 0))
		return;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	struct inq q;
	inq_init(&q, 4 + 100);
	uint8_t rec[4 + 100];
	/* records of 1..100 bytes, many of them, read in whatever pieces the pipe gives */
	size_t taken = 0;
	uint32_t len;
	for (uint32_t n = 1; n <= 100; n++) {
		rec[0] = (uint8_t)n;
		rec[1] = rec[2] = rec[3] = 0;
		memset(rec + 4, (int)n, n);
		CHECK(write(p[1], rec, 4 + n) == (ssize_t)(4 + n));
		inq_fill(&q, p[0]);
		int r;
		while ((r = inq_record(&q, 1, &len)) == 1) {
			CHECK_UINT(len, ==, taken + 1);
			CHECK_UINT(inq_data(&q)[4 + len - 1], ==, (uint8_t)len);
			inq_consume(&q, 4 + len);
			taken++;
		}
		CHECK_INT(r, ==, 0);
	}
	CHECK_UINT(taken, ==, 100);
	/* too long, too short */
	uint8_t bad[4] = { 101, 0, 0, 0 };
	CHECK(write(p[1], bad, 4) == 4);
	inq_fill(&q, p[0]);
	CHECK_INT(inq_record(&q, 1, &len), ==, -1);
	inq_consume(&q, 4);
	uint8_t zero[4] = { 0, 0, 0, 0 };
	CHECK(write(p[1], zero, 4) == 4);
	inq_fill(&q, p[0]);
	CHECK_INT(inq_record(&q, 1, &len), ==, -1);
	/* never more room than the bound asks for */
	CHECK_UINT(q.cap, <=, 2 * (4 + 100));
	inq_free(&q);
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		UNIT(test_outq_keeps_order_across_partial_writes),
		UNIT(test_inq_frames_in_pieces),
		UNIT(test_inq_records_and_bounds),
	};
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
