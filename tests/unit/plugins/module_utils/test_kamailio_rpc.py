"""Kamailio RPC result parsing (shapes as Kamailio 5.6 returns them)."""
from ansible_collections.voipops.voip.plugins.module_utils.callservers import kamailio as K

UL_DUMP = {"Domains": [{"Domain": {"Domain": "location", "Size": 1024, "AoRs": [
    {"Info": {"AoR": "1001", "HashID": 1, "Contacts": [
        {"Contact": {"Address": "sip:1001@127.0.0.1:40001", "Expires": 3581, "Q": -1, "Call-ID": "a", "CSeq": 2,
                     "User-Agent": "Yealink SIP-T54W 96.86.0.110", "Received": "[not set]", "Socket": "udp:127.0.0.1:5060"}},
        {"Contact": {"Address": "sip:1001@127.0.0.1:40009", "Expires": "deleted", "Call-ID": "b", "CSeq": 3,
                     "User-Agent": "Yealink SIP-T54W 96.86.0.100"}}]}},
    {"Info": {"AoR": "1002", "HashID": 2, "Contacts": [
        {"Contact": {"Address": "sip:1002@127.0.0.1:40002", "Expires": "deleted", "Call-ID": "c", "CSeq": 9,
                     "User-Agent": "PolycomVVX-VVX_450-UA/6.4.6.2410"}}]}}],
    "Stats": {"Records": 2, "Max-Slots": 1}}}]}

DISPATCHER = {"NRSETS": 1, "RECORDS": [{"SET": {"ID": 1, "TARGETS": [
    {"DEST": {"URI": "sip:127.0.0.1:5080", "FLAGS": "AP", "PRIORITY": 10,
              "ATTRS": {"BODY": "duid=mgw1", "DUID": "mgw1"}, "LATENCY": {"AVG": 1.5, "TIMEOUT": 0}}},
    {"DEST": {"URI": "sip:127.0.0.1:5082", "FLAGS": "IP", "PRIORITY": 5,
              "ATTRS": {"BODY": "duid=mgw2", "DUID": "mgw2"}, "LATENCY": {"AVG": 0, "TIMEOUT": 7}}}]}}]}


def test_unregistered_contacts_awaiting_purge_are_not_registrations():
    live = K.parse_ul_dump(UL_DUMP)
    assert [(c["aor"], c["contact"]) for c in live] == [("1001", "sip:1001@127.0.0.1:40001")]
    assert live[0]["user_agent"] == "Yealink SIP-T54W 96.86.0.110" and live[0]["expires"] == 3581
    everything = K.parse_ul_dump(UL_DUMP, include_deleted=True)
    assert len(everything) == 3 and {c["aor"] for c in everything} == {"1001", "1002"}


def test_dispatcher_states_from_flags():
    gws = K.parse_dispatcher_list(DISPATCHER)
    assert [(g["duid"], g["state"], g["probing"]) for g in gws] == [("mgw1", "active", True), ("mgw2", "inactive", True)]
    assert gws[1]["latency_timeouts"] == 7 and gws[0]["setid"] == 1


def test_key_statistics_are_numbers():
    stats = K.parse_stats({"core.rcv_requests": "12", "shmem.free_size": "640", "dispatcher.foo": "3", "tcp.other": "1"})
    assert stats == {"core.rcv_requests": 12, "shmem.free_size": 640, "dispatcher.foo": 3}
