# -*- coding: utf-8 -*-
"""The phone simulator on its own: phones boot from files served over real HTTP (written by the
provisioning planner), register to a small in-test registrar, obey NOTIFY and the control commands."""
from __future__ import absolute_import, division, print_function

import asyncio
import functools
import http.server
import json
import os
import threading

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import provision, sip
from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim, vendors
from ansible_collections.voipops.voip.plugins.module_utils.handsets import base, registrations

ESTATE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "inventories", "lab", "estate.yml")


class Registrar(object):
    """A registrar on loopback that accepts every REGISTER (digest is Kamailio's business in the lab tests)."""

    def __init__(self):
        self.contacts = {}      # user -> {contact: user_agent}
        self.log = []
        self.ep = None

    async def start(self):
        self.ep = await sip.SipEndpoint.create("127.0.0.1", 0, handler=self.on_request)
        return self

    def on_request(self, req, _source):
        if req.method != "REGISTER":
            return sip.SipResponse.for_request(req, 405)
        user = str(req.headers.get("to")).split("sip:", 1)[1].split("@", 1)[0]
        contact = req.headers.get("contact").strip("<>")
        expires = int(req.headers.get("expires"))
        self.log.append((user, contact, expires, req.headers.get("user-agent")))
        mine = self.contacts.setdefault(user, {})
        if expires == 0:
            mine.pop(contact, None)
        else:
            mine[contact] = req.headers.get("user-agent")
        resp = sip.SipResponse.for_request(req, 200)
        if expires:
            resp.headers.set("Contact", "<%s>;expires=%d" % (contact, expires))
        return resp

    @property
    def port(self):
        return self.ep.local_addr[1]


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "prov"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield str(root), "http://127.0.0.1:%d/" % server.server_address[1], server
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    seen = []

    def log_message(self, *args):
        QuietHandler.seen.append((self.path, self.headers.get("User-Agent")))


def provisioned_fleet(root, url, registrar_port, n=5):
    phones = phonesim.make_fleet(n, first_extension=4001, prefix="t")
    estate = [dict((k, p[k]) for k in ("name", "mac", "vendor", "model", "user")) for p in phones]
    users = [{"extension": p["user"], "display_name": "T %s" % p["user"], "sip_password": "pw-%s-secret" % p["user"]}
             for p in phones]
    provision.Provisioner(root, estate, users, {"registrar": "127.0.0.1", "registrar_port": registrar_port,
                                                "provisioning_url": url, "expires": 60}).run()
    return phones


async def until(predicate, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in %ss" % timeout)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_make_fleet_is_deterministic_and_covers_every_vendor():
    a, b = phonesim.make_fleet(20), phonesim.make_fleet(20)
    assert a == b
    assert set(p["vendor"] for p in a) == set(["yealink", "poly", "snom", "grandstream", "cisco"])
    assert len(set(p["mac"] for p in a)) == 20 and len(set(p["user"] for p in a)) == 20


def test_fleet_from_estate_runs_every_handset_on_an_approved_firmware():
    from ansible_collections.voipops.voip.plugins.module_utils import estate as estate_mod
    est = estate_mod.load_estate(ESTATE)
    fleet = phonesim.fleet_from_estate(ESTATE)
    assert [p["name"] for p in fleet] == [h["name"] for h in est.handsets]
    for p in fleet:
        approved = est.approved_versions(p["vendor"], p["model"])
        if approved:
            assert p["running_firmware"] == approved[-1]
        parsed = registrations.parse_user_agent(vendors.user_agent(p["vendor"], p["model"], p["running_firmware"], p["mac"]))
        assert parsed["firmware"] == p["running_firmware"]


def test_the_simulator_covers_every_vendor_profile_and_refuses_an_unknown_vendor():
    assert sorted(vendors.VENDORS) == sorted(p.vendor for p in base.all_profiles())
    assert vendors.user_agent("Polycom", "VVX450", "6.4.3.5018", "64:16:7f:00:00:01") == "PolycomVVX-VVX_450-UA/6.4.3.5018"
    with pytest.raises(ValueError, match=r"does not know vendor 'acme' \(known: cisco, grandstream, poly, snom, yealink\)"):
        vendors.user_agent("acme", "X1", "1.0", "00:15:65:12:34:56")
    with pytest.raises(ValueError, match="known: cisco"):
        vendors.boot_requests(None, "00:15:65:12:34:56", "X1")
    # the product's vendor profiles read User-Agents and files; making them up is the simulator's alone
    assert not [p.vendor for p in base.all_profiles() if hasattr(p, "user_agent") or hasattr(p, "boot_requests")]


def test_fleet_file_json_yaml_and_list(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"provisioning_url": "http://x/", "handsets": [{"name": "a"}]}))
    (tmp_path / "b.yml").write_text("provisioning_url: http://x/\nhandsets:\n  - name: b\n")
    (tmp_path / "c.yml").write_text("- name: c\n")
    assert phonesim.load_fleet_file(str(tmp_path / "a.json"))["handsets"] == [{"name": "a"}]
    assert phonesim.load_fleet_file(str(tmp_path / "b.yml"))["handsets"] == [{"name": "b"}]
    assert phonesim.load_fleet_file(str(tmp_path / "c.yml")) == {"handsets": [{"name": "c"}]}


def test_phones_boot_from_http_register_and_answer_notify(http_root, tmp_path):
    root, url, _server = http_root

    async def go():
        reg = await Registrar().start()
        phones = provisioned_fleet(root, url, reg.port)
        sim = phonesim.Simulator(phones, url, str(tmp_path), reboot_delay=0.1)
        await asyncio.gather(*(p.start() for p in sim.phones))
        try:
            assert [p.state for p in sim.phones] == ["registered"] * 5, [(p.name, p.error) for p in sim.phones]
            for p in sim.phones:
                # registered with the account of its files and its vendor's User-Agent
                assert list(reg.contacts[p.config["username"]].values()) == [p.sip_ua()]
                assert registrations.parse_user_agent(p.sip_ua())["vendor"] == p.vendor
            # the vendor's re-sync event: 200 and a re-fetch; another vendor's odd event: 489
            target = sim.phones[0]
            event = target.profile.notify_event("resync")
            res = await sip.notify_many([{"uri": target.ep.contact_uri(target.config["username"]), "event": event}],
                                        timeout=2.0)
            assert res[0]["code"] == 200
            await until(lambda: target.resyncs == 1)
            res = await sip.notify_many([{"uri": target.ep.contact_uri("x"), "event": "no-such-event"}], timeout=2.0)
            assert res[0]["code"] == 489
        finally:
            await asyncio.gather(*(p.stop() for p in sim.phones))
        # stopping unregisters
        assert all(not c for c in reg.contacts.values())
    run(go())
    # the files were fetched with each vendor's HTTP User-Agent
    agents = set(ua for _path, ua in QuietHandler.seen)
    assert any(ua.startswith("Yealink") for ua in agents) and any("snom" in ua for ua in agents)


def test_control_commands_through_the_state_dir(http_root, tmp_path):
    """stop / start / firmware / add / remove, sent by phonesim.control() from another thread like a test does."""
    root, url, _server = http_root
    state = str(tmp_path / "sim")
    os.makedirs(state)
    with open(os.path.join(state, "phonesim.pid"), "w") as handle:
        handle.write("%d\n" % os.getpid())
    results = {}

    async def go():
        reg = await Registrar().start()
        phones = provisioned_fleet(root, url, reg.port, n=3)
        sim = phonesim.Simulator(phones, url, state, defaults={"registrar": "127.0.0.1", "registrar_port": reg.port})
        runner = asyncio.ensure_future(sim.run())
        await until(lambda: os.path.exists(os.path.join(state, "status.json")) and
                    all(p.state == "registered" for p in sim.phones))
        loop = asyncio.get_running_loop()
        first = sim.phones[0]
        user = first.config["username"]

        def ctl(command, **args):
            return phonesim.control(state, command, timeout=10, **args)

        results["stop"] = await loop.run_in_executor(None, functools.partial(ctl, "stop", name=first.name))
        results["after_stop"] = dict(reg.contacts[user])
        probe = await sip.probe_many([first.ep.contact_uri()], timeout=1.0)
        results["probe_stopped"] = probe[0]["status"]
        results["start"] = await loop.run_in_executor(None, functools.partial(ctl, "start", name=first.name))
        results["after_start"] = dict(reg.contacts[user])
        results["fw"] = await loop.run_in_executor(None, functools.partial(ctl, "firmware", name=first.name,
                                                                           version="96.86.0.99"))
        results["after_fw"] = dict(reg.contacts[user])
        results["add"] = await loop.run_in_executor(None, functools.partial(
            ctl, "add", name="stray", user="4999", password="x", user_agent="Linphone/5.2"))
        results["after_add"] = dict(reg.contacts.get("4999", {}))
        results["remove"] = await loop.run_in_executor(None, functools.partial(ctl, "remove", name="stray"))
        results["after_remove"] = dict(reg.contacts.get("4999", {}))
        for bad in (("stop", {"name": "nope"}), ("remove", {"name": first.name}), ("dance", {"name": first.name}),
                    ("add", {"name": "x"})):
            try:
                await loop.run_in_executor(None, functools.partial(ctl, bad[0], **bad[1]))
                results.setdefault("bad", []).append(None)
            except phonesim.ControlError as exc:
                results.setdefault("bad", []).append(str(exc))
        results["status"] = await loop.run_in_executor(None, functools.partial(ctl, "status"))
        results["ports"] = json.load(open(os.path.join(state, "ports.json")))
        results["first_port"] = first.port
        sim._stop.set()
        await runner

    run(go())
    assert results["stop"]["state"] == "stopped" and results["after_stop"] == {}
    assert results["probe_stopped"] != "ok"                       # silent while stopped
    assert results["start"]["state"] == "registered" and len(results["after_start"]) == 1
    assert results["fw"]["firmware"] == "96.86.0.99"
    assert list(results["after_fw"].values()) == [results["fw"]["user_agent"]] and "96.86.0.99" in results["fw"]["user_agent"]
    assert results["add"]["state"] == "registered" and list(results["after_add"].values()) == ["Linphone/5.2"]
    assert results["after_remove"] == {}
    assert "no phone named 'nope'" in results["bad"][0]
    assert "is a fleet phone" in results["bad"][1]
    assert "unknown command 'dance'" in results["bad"][2]
    assert "needs a name and a user" in results["bad"][3]
    assert results["status"]["count"] == 3 and results["status"]["states"] == {"registered": 3}
    assert results["ports"][results["status"]["phones"][0]["name"]] == results["first_port"]


def test_phones_keep_their_ports_across_restarts(http_root, tmp_path):
    root, url, _server = http_root

    async def once(reg, phones):
        sim = phonesim.Simulator(phones, url, str(tmp_path), reboot_delay=0.1)
        await asyncio.gather(*(p.start() for p in sim.phones))
        sim.write_ports()
        ports = [p.port for p in sim.phones]
        await asyncio.gather(*(p.stop(unregister=False) for p in sim.phones))
        return ports

    async def go():
        reg = await Registrar().start()
        phones = provisioned_fleet(root, url, reg.port, n=3)
        first = await once(reg, phones)
        second = await once(reg, phones)
        return first, second, reg

    first, second, reg = run(go())
    assert first == second
    assert all(len(c) == 1 for c in reg.contacts.values())      # same contact updated, none left behind


def test_control_and_wait_without_a_simulator(tmp_path):
    with pytest.raises(phonesim.ControlError, match="no phone simulator runs"):
        phonesim.control(str(tmp_path), "status")
    with pytest.raises(phonesim.ControlError, match="no phone simulator runs"):
        phonesim.wait_registered(str(tmp_path), timeout=0.3)


def test_wait_names_the_phones_that_did_not_register(tmp_path):
    with open(os.path.join(str(tmp_path), "phonesim.pid"), "w") as handle:
        handle.write("%d\n" % os.getpid())
    status = {"pid": os.getpid(), "count": 2, "states": {}, "phones": [
        {"name": "a", "state": "registered", "error": None, "extra": False},
        {"name": "b", "state": "unregistered", "error": "REGISTER answered 403 Forbidden", "extra": False}]}
    with open(os.path.join(str(tmp_path), "status.json"), "w") as handle:
        json.dump(status, handle)
    with pytest.raises(phonesim.ControlError, match=r"b \(unregistered: REGISTER answered 403 Forbidden\)"):
        phonesim.wait_registered(str(tmp_path), timeout=0.3)
    status["phones"][1]["state"] = "registered"
    with open(os.path.join(str(tmp_path), "status.json"), "w") as handle:
        json.dump(status, handle)
    assert phonesim.wait_registered(str(tmp_path), timeout=1, expect=2)["pid"] == os.getpid()
    with pytest.raises(phonesim.ControlError):
        phonesim.wait_registered(str(tmp_path), timeout=0.3, expect=3)
