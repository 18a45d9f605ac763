"""haproxy.cfg as Octavia's amphora driver renders it for a load balancer
(its combined-listeners template): global and defaults, then per listener a
frontend named by the listener id and a backend `<pool id>:<listener id>`.
A pure function of the model, so it is tested against expected text."""

DEFAULT_MAXCONN = 50000           # connection_limit -1
LOG_SOCKET = "/run/rsyslog/octavia/log"
BALANCE = {"ROUND_ROBIN": "roundrobin", "LEAST_CONNECTIONS": "leastconn", "SOURCE_IP": "source"}
MODE = {"TCP": "tcp", "HTTP": "http"}
OCTAVIA_DIR = "/var/lib/octavia"


def lb_dir(lb_id):
    return "%s/%s" % (OCTAVIA_DIR, lb_id)


def config_path(lb_id):
    return "%s/haproxy.cfg" % lb_dir(lb_id)


def stats_socket(lb_id):
    return "%s/%s.sock" % (OCTAVIA_DIR, lb_id)


def _maxconn(limit):
    return DEFAULT_MAXCONN if limit < 0 else limit


def render(lb):
    """The whole file for `lb` (a model.LoadBalancer)."""
    listeners = list(lb.listeners.values())
    global_maxconn = sum(_maxconn(l.connection_limit) for l in listeners) or DEFAULT_MAXCONN
    lines = [
        "# Configuration for loadbalancer %s" % lb.id,
        "global",
        "    daemon",
        "    user nobody",
        "    log %s local0" % LOG_SOCKET,
        "    log %s local1 notice" % LOG_SOCKET,
        "    stats socket %s mode 0666 level user" % stats_socket(lb.id),
        "    maxconn %d" % min(global_maxconn, 1000000),
        "",
        "defaults",
        "    log global",
        "    retries 3",
        "    option redispatch",
        "    option splice-request",
        "    option splice-response",
        "    option http-keep-alive",
        "",
    ]
    for listener in listeners:
        lines += frontend(lb, listener)
        pool = lb.pools.get(listener.pool) if listener.pool else None
        if pool is not None:
            lines += backend(listener, pool)
    return "\n".join(lines) + "\n"


def frontend(lb, listener):
    out = ["frontend %s" % listener.id,
           "    maxconn %d" % _maxconn(listener.connection_limit),
           "    bind %s:%d" % (lb.vip_address, listener.port),
           "    mode %s" % MODE[listener.protocol]]
    pool = lb.pools.get(listener.pool) if listener.pool else None
    if pool is not None:
        out.append("    default_backend %s:%s" % (pool.id, listener.id))
    out.append("    timeout client %d" % listener.timeout_client_data)
    return out + [""]


def backend(listener, pool):
    out = ["backend %s:%s" % (pool.id, listener.id),
           "    mode %s" % MODE[pool.protocol],
           "    balance %s" % BALANCE[pool.algorithm],
           "    fullconn %d" % _maxconn(listener.connection_limit),
           "    option allbackups",
           "    timeout connect %d" % listener.timeout_member_connect,
           "    timeout server %d" % listener.timeout_member_data]
    for m in pool.members:
        out.append("    server %s %s:%d weight %d%s" % (m.id, m.address, m.port, m.weight,
                                                      "" if m.enabled else " disabled"))
    return out + [""]


# What Octavia passes haproxy after the load balancer's own file.
USER_GROUP = "global\n    group nogroup\n"


def fd_limits(hard_limit, maxconn):
    """A `global maxconn` haproxy can honour with `hard_limit` open files,
    or None when `maxconn` fits: haproxy wants two per connection plus a
    pipe (two) per four connections for splicing. Some machines may not
    raise RLIMIT_NOFILE (no CAP_SYS_RESOURCE): the amphora then loads this
    before Octavia's file, so the lower value wins."""
    usable = (hard_limit - 500) * 2 // 5
    if maxconn <= usable:
        return None
    return "global\n    maxconn %d\n" % max(usable, 100)
