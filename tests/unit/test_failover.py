"""The outage read from a continuous ping's output."""

from stacklab.observe.failover import outage

REPLY = "64 bytes from 172.17.0.10: icmp_seq=%d ttl=63 time=0.5 ms\n"


def test_the_longest_run_of_lost_replies():
    text = "".join(REPLY % s for s in [1, 2, 3, 10, 11, 12]) + "12 packets transmitted, 6 received, 50% packet loss\n"
    assert outage(text) == (60, 12, 6)          # 4..9 lost: six replies of 10 ms


def test_losses_at_the_start_and_the_end_count():
    text = "".join(REPLY % s for s in [5, 6]) + "20 packets transmitted, 2 received\n"
    assert outage(text) == (140, 20, 2)         # 7..20 lost (ping counts from 1)
    assert outage("10 packets transmitted, 0 received\n") == (100, 10, 0)


def test_nothing_lost():
    text = "".join(REPLY % s for s in range(1, 6)) + "5 packets transmitted, 5 received\n"
    assert outage(text) == (0, 5, 5)
