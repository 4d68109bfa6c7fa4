"""Discovery keeps to the links it was asked about: Linux gives a multicast socket what every interface hears."""

from __future__ import annotations

import ipaddress

from picf.discovery.mdns import on_links


def test_answers_from_another_link_are_dropped_and_no_links_means_all() -> None:
    lan = [ipaddress.IPv4Network("10.231.9.0/24")]
    assert on_links(["10.231.9.11", "10.231.29.11", "192.168.1.5"], lan) == ["10.231.9.11"]
    assert on_links(["10.231.29.11"], lan) == []
    assert on_links(["10.231.29.11"], []) == ["10.231.29.11"]
