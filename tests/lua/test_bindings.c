/*
 * test_bindings.c - qsl.procfs, qsl.sock, qsl.wire, qsl.engine, qsl.hist,
 * qsl.clock and qsl.strace from Lua.
 */
#include <string.h>

#include "lua_test.h"

START_TEST(test_procfs_self_and_child)
{
    run_ok("local qsl = require 'qsl'\n"
           "local st = assert(qsl.procfs.stat())\n"
           "assert(st.pid > 0 and st.state and st.utime_ticks >= 0)\n"
           "local s = assert(qsl.procfs.status())\n"
           "assert(math.type(s.VmHWM) == 'integer' and s.VmHWM > 0 and s.Name)\n"
           "assert(qsl.procfs.schedstat().cpu_ns >= 0)\n"
           "assert(qsl.procfs.fd_count() >= 3)\n"
           "assert(qsl.procfs.clock_ticks() > 0)\n"
           "local p <close> = assert(qsl.proc.spawn{argv = {'sh', '-c', 'echo ready; exec sleep 30'}})\n"
           "assert(p:ready(5000))\n"
           "local cs = assert(qsl.procfs.stat(p.pid))\n"
           "assert(cs.pid == p.pid and cs.ppid == st.pid)\n"
           "assert(qsl.procfs.fd_count(p.pid) >= 3)\n");
}
END_TEST

START_TEST(test_procfs_missing_is_nil_message)
{
    run_ok("local qsl = require 'qsl'\n"
           "local v, err, code = qsl.procfs.stat(2147483000)\n"
           "assert(v == nil and err:find('No such file') and code == 2, err)\n"
           "local n, e2 = qsl.procfs.sysctl('net.no.such')\n"
           "assert(n == nil and e2)\n"
           "assert(qsl.procfs.sysctl('net.core.rmem_max') > 0)\n"
           "local snmp = assert(qsl.procfs.snmp())\n"
           "assert(math.type(snmp.Udp.RcvbufErrors) == 'integer')\n");
    const char *e = run_err("require('qsl').procfs.sysctl('../../etc/passwd')");
    ck_assert_ptr_nonnull(strstr(e, "dotted sysctl name"));
    e = run_err("require('qsl').procfs.stat(-4)");
    ck_assert_ptr_nonnull(strstr(e, "not a process id"));
}
END_TEST

START_TEST(test_sock_options_and_drops)
{
    run_ok("local qsl = require 'qsl'\n"
           "local rx <close> = assert(qsl.sock.udp())\n"
           "assert(rx:bind('127.0.0.1', 0))\n"
           "local host, port = rx:local_address()\n"
           "assert(host == '127.0.0.1' and port > 0)\n"
           "assert(rx:setopt('rcvbuf', 4096) == 8192, 'granted = 2 x requested')\n"
           "assert(rx:getopt('rcvbuf') == 8192)\n"
           "local tx <close> = assert(qsl.sock.udp())\n"
           "assert(tx:connect('127.0.0.1', port))\n"
           "for i = 1, 1000 do assert(tx:send(string.rep('x', 64)) == 64) end\n"
           "local got = 0\n"
           "while rx:recv(128, 0) do got = got + 1 end\n"
           "assert(got < 1000 and got + rx:drops() == 1000, got .. ' + ' .. rx:drops())\n");
    const char *e = run_err("local s = require('qsl').sock.udp(); s:setopt('rcvbuff', 1)");
    ck_assert_ptr_nonnull(strstr(e, "unknown socket option 'rcvbuff'; known: rcvbuf"));
    e = run_err("local s = require('qsl').sock.udp(); s:setopt('nodelay', 1)");
    ck_assert_ptr_nonnull(strstr(e, "'nodelay' applies to TCP sockets only"));
    e = run_err("local s = require('qsl').sock.udp(); s:bind('localhost', 0)");
    ck_assert_ptr_nonnull(strstr(e, "not a numeric IPv4 address"));
    e = run_err("local s = require('qsl').sock.udp(); s:close(); s:send('x')");
    ck_assert_ptr_nonnull(strstr(e, "closed socket"));
}
END_TEST

START_TEST(test_tcp_round_trip_and_timeout)
{
    run_ok("local qsl = require 'qsl'\n"
           "local l <close> = assert(qsl.sock.tcp())\n"
           "assert(l:setopt('reuseaddr', true) == 1)\n"
           "assert(l:bind('127.0.0.1', 0)); assert(l:listen())\n"
           "local _, port = l:local_address()\n"
           "local c <close> = assert(qsl.sock.tcp())\n"
           "assert(c:connect('127.0.0.1', port))\n"
           "assert(c:setopt('nodelay', 1) == 1)\n"
           "local a <close> = assert(l:accept(1000))\n"
           "c:send('ping')\n"
           "assert(a:recv(16, 1000) == 'ping')\n"
           "local v, err = a:recv(16, 50)\n"
           "assert(v == nil and err == 'timeout')\n");
}
END_TEST

START_TEST(test_wire_round_trip_and_errors)
{
    run_ok("local w = require('qsl').wire\n"
           "local b = w.encode{type='NewOrder', order_id=7, symbol=1, price=-3, quantity=5,"
           "  side='sell', tif='ioc'}\n"
           "assert(#b == 43 and w.frame_size('NewOrder') == 43)\n"
           "local m, n = w.decode(b)\n"
           "assert(n == 43 and m.type == 'NewOrder' and m.price == -3 and m.side == 'sell'"
           "  and m.tif == 'ioc' and m.order_type == 'limit')\n"
           "local two = b .. w.encode{type='Heartbeat', token=9}\n"
           "local hb = w.decode(two, 44)\n"
           "assert(hb.type == 'Heartbeat' and hb.token == 9)\n"
           "assert(select(2, w.decode(b:sub(1, 42))) == 'Truncated')\n"
           "assert(select(2, w.decode(w.header{type='Heartbeat', body_len=4097})) == 'BodyTooLarge')\n"
           "assert(select(2, w.decode(w.header{type=77, body_len=8})) == 'UnknownType')\n"
           "assert(select(2, w.decode(w.header{type='Heartbeat', version=2, body_len=8})) == 'UnsupportedVersion')\n");
    const char *e = run_err("require('qsl').wire.encode{type='NewOrder', order_id=1, symbol=0,"
                            " price=1, quantity=1, side='up'}");
    ck_assert_ptr_nonnull(strstr(e, "field 'side': invalid value 'up'"));
}
END_TEST

START_TEST(test_engine_from_lua)
{
    run_ok("local qsl = require 'qsl'\n"
           "local e <close> = qsl.engine.new{symbols=2, capacity=100, max_quantity=50}\n"
           "local ev, why = e:submit{order_id=1, symbol=0, side='sell', price=100, quantity=5}\n"
           "assert(why == nil and ev[1].kind == 'accepted' and ev[1].seq == 1)\n"
           "ev = e:submit{order_id=2, symbol=0, side='buy', price=101, quantity=2}\n"
           "assert(ev[2].kind == 'trade' and ev[2].price == 100 and ev[2].maker_id == 1)\n"
           "local _, r = e:submit{order_id=3, symbol=0, side='buy', price=1, quantity=51}\n"
           "assert(r == 'MaxQuantityExceeded')\n"
           "local bid, ask = e:best(0)\n"
           "assert(bid == nil and ask == 100)\n"
           "local d = e:depth(0, 'sell')\n"
           "assert(d[1].price == 100 and d[1].quantity == 3 and d[1].orders == 1)\n"
           "assert(select(2, e:cancel(0, 99)) == 'UnknownOrder')\n"
           "assert(e:stats().rejects.UnknownOrder == 1)\n"
           "local f <close> = qsl.engine.new{}\n"
           "local s = f:run_flow{seed=42, orders=20000}\n"
           "assert(s.accepted > 0 and s.trades > 0 and s.ns_per_order > 0)\n");
}
END_TEST

START_TEST(test_hist_clock_strace)
{
    run_ok("local qsl = require 'qsl'\n"
           "local h = qsl.hist.new()\n"
           "assert(h:percentile(50) == nil)\n"
           "for i = 1, 1000 do h:record(i * 1000) end\n"
           "local s = h:summary()\n"
           "assert(s.count == 1000 and s.min == 1000 and s.max == 1000000)\n"
           "assert(s.p50 >= 500000 and s.p50 <= 500000 * (1 + 1/64))\n"
           "local t0 = qsl.clock.now_ns(); qsl.clock.sleep_ms(20)\n"
           "assert(qsl.clock.now_ns() - t0 >= 20e6)\n"
           "local f = assert(io.open('tests/data/strace-6.1-f-c.txt')):read('a')\n"
           "local sum = assert(qsl.strace.parse(f))\n"
           "assert(#sum.rows == 36 and sum.total.calls == 356 and sum.rows[1].syscall == 'wait4')\n"
           "local none, err = qsl.strace.parse('strace: exec: Permission denied\\n')\n"
           "assert(none == nil and err:find('no summary header'), err)\n"
           "local x, e2, code = qsl.strace.parse_file('/nonexistent')\n"
           "assert(x == nil and code == 2)\n");
}
END_TEST

/* Issue 10.6/10.7: empty tables, missing fields and out-of-range values. */
START_TEST(test_bad_arguments_never_crash)
{
    run_file_ok("tests/lua/bad_arguments.lua");
}
END_TEST

Suite *procfs_lua_suite(void)
{
    Suite *s = suite_create("procfs (Lua)");
    TCase *tc = tcase_create("procfs");
    tcase_add_checked_fixture(tc, lua_setup, lua_teardown);
    tcase_add_test(tc, test_procfs_self_and_child);
    tcase_add_test(tc, test_procfs_missing_is_nil_message);
    suite_add_tcase(s, tc);
    return s;
}

Suite *bindings_suite(void)
{
    Suite *s = suite_create("bindings");
    TCase *tc = tcase_create("bindings");
    tcase_add_checked_fixture(tc, lua_setup, lua_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_sock_options_and_drops);
    tcase_add_test(tc, test_tcp_round_trip_and_timeout);
    tcase_add_test(tc, test_wire_round_trip_and_errors);
    tcase_add_test(tc, test_engine_from_lua);
    tcase_add_test(tc, test_hist_clock_strace);
    tcase_add_test(tc, test_bad_arguments_never_crash);
    suite_add_tcase(s, tc);
    return s;
}
