"""Discovery: find Pis with mDNS, identify them over SSH, propose how they enter the inventory."""

from picf.discovery.identify import DiscoveryOptions, DiscoveryResult, discover
from picf.discovery.mdns import MdnsError
from picf.discovery.merge import plan_merge

__all__ = ["DiscoveryOptions", "DiscoveryResult", "MdnsError", "discover", "plan_merge"]
