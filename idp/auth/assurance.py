"""Assurance levels published as `acr` values (eIDAS low/substantial/high; NIST IAL/AAL 1-3)."""

from __future__ import annotations

ACR_LOW = "urn:vn:gov:sso:loa:low"
ACR_SUBSTANTIAL = "urn:vn:gov:sso:loa:substantial"
ACR_HIGH = "urn:vn:gov:sso:loa:high"
ACR_VALUES = (ACR_LOW, ACR_SUBSTANTIAL, ACR_HIGH)

# RFC 8176 authentication method reference for a password.
AMR_PASSWORD = "pwd"
