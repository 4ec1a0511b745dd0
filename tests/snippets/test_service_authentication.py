"""Behaviour of snippets/service_authentication.py: mTLS with X509-SVIDs, bound tokens."""

import datetime as dt
import ipaddress
import json
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import jwt
import pytest
import service_authentication as snippet
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH
ORDERS_ID = "spiffe://example.internal/orders"
BILLING_ID = "spiffe://example.internal/billing"
PROBLEMS = "https://api.example.com/problems/"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("pki"))
    ca, rogue_ca = snippet.new_ca("Internal CA"), snippet.new_ca("Rogue CA")
    loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    pki = {
        "ca": ca,
        "ca_pem": ca[1].public_bytes(snippet.PEM).decode(),
        "rogue_ca_pem": rogue_ca[1].public_bytes(snippet.PEM).decode(),
        "inventory": snippet.workload(ca, "inventory", folder, loopback),
        "orders": snippet.workload(ca, "orders", folder),
        "billing": snippet.workload(ca, "billing", folder),
        "impostor": snippet.workload(rogue_ca, "orders", folder),
        "server_only": snippet.workload(ca, "orders", folder, roles=[SERVER]),
        "folder": Path(folder),
    }
    identity = snippet.IdentityService()
    server, url = snippet.serve(pki["ca_pem"], pki["inventory"], identity.public_key, "inventory")
    pki |= {"identity": identity, "url": url, "server": server}
    yield pki
    server.shutdown()
    server.server_close()


@pytest.fixture
def handled(monkeypatch):
    """Counts requests that got past the TLS handshake into the handler."""
    calls = []
    original = snippet.decide

    def counting(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(snippet, "decide", counting)
    return calls


def raw_call(pki, cert_pem, headers, method="GET", path="/stock/sku_1", ca_pem=None):
    with snippet.client(ca_pem or pki["ca_pem"], cert_pem) as http:
        response = http.request(method, f"{pki['url']}{path}", headers=headers)
    if response.status_code != 200:
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert set(body) == {"type", "title", "status", "detail", "retryable"}
        assert body["status"] == response.status_code and body["retryable"] is False
        assert "Error" not in body["detail"]  # F-SVA-5: no library exception names
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api"')
    return response


def call(pki, cert_pem, token, ca_pem=None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = raw_call(pki, cert_pem, headers, ca_pem=ca_pem)
    body = response.json()
    return response.status_code, body.get("caller") or body["type"].removeprefix(PROBLEMS)


def token(pki, caller="orders", audience="inventory", clock=None):
    identity = pki["identity"]
    if clock is None:
        return identity.token(pki[caller], audience)
    saved, identity.clock = identity.clock, clock
    try:
        return identity.token(pki[caller], audience)
    finally:
        identity.clock = saved


def leaf(pki, name, uris, cn=None, usage=snippet.LEAF_USAGE, ca=False, hours=(-1, 24)):
    """A certificate from the internal CA with any profile, for the negative tests."""
    ca_key, ca_cert = pki["ca"]
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(hours=hours[0]))
        .not_valid_after(now + dt.timedelta(hours=hours[1]))
        .add_extension(x509.BasicConstraints(ca, None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([SERVER, CLIENT]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris]),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    path = pki["folder"] / f"{name}.pem"
    private = serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    path.write_bytes(cert.public_bytes(snippet.PEM) + key.private_bytes(snippet.PEM, *private))
    return path, cert


def bound_token(pki, cert, sub, typ="at+jwt", audience="inventory"):
    """A token signed by the identity service's key, bound to `cert`, with any `sub`."""
    now = int(time.time())
    claims = {"iss": snippet.ISSUER, "sub": sub, "aud": audience, "iat": now}
    claims |= {"exp": now + 60, "cnf": {"x5t#S256": snippet.thumbprint(cert)}}
    headers = {"typ": typ} if typ else {}
    return jwt.encode(claims, pki["identity"]._key, "EdDSA", headers=headers)


def test_valid_certificate_and_token_are_accepted(pki, handled):
    assert call(pki, pki["orders"], token(pki)) == (200, ORDERS_ID)
    assert len(handled) == 1


def test_leaf_certificates_follow_the_x509_svid_profile(pki):
    cert = x509.load_pem_x509_certificate(pki["orders"].read_bytes())
    ext = cert.extensions
    usage = ext.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature  # X509-SVID 4.3
    assert not (usage.value.key_cert_sign or usage.value.crl_sign)
    eku = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {SERVER, CLIENT}  # X509-SVID 4.4: both, when present
    basic = ext.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False  # 4.1
    san = ext.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [ORDERS_ID]
    assert san.critical and len(cert.subject) == 0  # no subject, so the SAN is critical
    assert snippet.spiffe_id(cert) == ORDERS_ID


def test_the_ca_certificate_is_a_signing_svid(pki):
    ca_cert = pki["ca"][1]
    usage = ca_cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign  # 5280
    assert not usage.value.digital_signature
    basic = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    san = ca_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [snippet.TRUST_DOMAIN]
    with pytest.raises(ValueError):
        snippet.spiffe_id(ca_cert)  # a signing certificate never authenticates a caller


@pytest.mark.parametrize(
    "uris",
    [
        [ORDERS_ID, BILLING_ID],  # X509-SVID 5.2: more than one URI SAN is rejected
        ["spiffe://other.internal/orders"],  # another trust domain
        ["spiffe://example.internal/"],  # the root path is not a workload
        ["https://example.internal/orders"],  # not the spiffe scheme
    ],
)
def test_a_certificate_that_is_not_a_leaf_svid_is_refused(pki, uris):
    cert_pem, cert = leaf(pki, f"bad-{len(uris)}-{hash(tuple(uris))}", uris)
    with pytest.raises(ValueError):
        snippet.spiffe_id(cert)
    assert call(pki, cert_pem, bound_token(pki, cert, uris[0])) == (401, "unauthorized")


def test_authorization_uses_the_spiffe_id_never_the_common_name(pki):
    # A certificate whose CN claims to be orders is billing by its SPIFFE ID.
    cert_pem, cert = leaf(pki, "cn-liar", [BILLING_ID], cn="orders")
    assert call(pki, cert_pem, bound_token(pki, cert, BILLING_ID)) == (403, "forbidden")


def test_a_workload_outside_the_allow_list_is_forbidden(pki, handled):
    """F-SVA-4: billing has a valid certificate and its own valid token for inventory."""
    own = token(pki, caller="billing")
    assert call(pki, pki["billing"], own) == (403, "forbidden")
    assert call(pki, pki["orders"], token(pki)) == (200, ORDERS_ID)


@pytest.mark.parametrize(
    "who, alert",
    [
        (None, "CERTIFICATE_REQUIRED"),  # no certificate at all
        ("impostor", "UNKNOWN_CA"),  # same SPIFFE ID, but from another CA
        ("server_only", "UNSUPPORTED_CERTIFICATE"),  # our CA, but no clientAuth
    ],
)
def test_client_without_a_valid_client_certificate_is_refused(pki, handled, who, alert):
    cert_pem = pki[who] if who else None
    with pytest.raises(httpx.TransportError, match=alert):  # the server's TLS alert
        call(pki, cert_pem, token(pki))
    assert handled == []  # the request never reached the application


def test_expired_client_certificate_is_refused(pki, handled):
    path, _ = leaf(pki, "expired", [ORDERS_ID], hours=(-2, -1))
    with pytest.raises(httpx.TransportError):
        call(pki, path, token(pki))
    assert handled == []


def test_client_refuses_a_server_from_another_ca(pki, handled):
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        call(pki, pki["orders"], token(pki), ca_pem=pki["rogue_ca_pem"])
    assert handled == []


def test_tls_1_3_is_negotiated_and_1_2_is_refused(pki):
    port = int(pki["url"].rsplit(":", 1)[1])
    context = ssl.create_default_context(cadata=pki["ca_pem"])
    context.load_cert_chain(pki["orders"])
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.3"
            peer = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
            assert snippet.spiffe_id(peer) == "spiffe://example.internal/inventory"
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_token_claims_are_short_lived_typed_and_bound(pki):
    issued_at = 1_800_000_000
    issued = token(pki, clock=lambda: issued_at)
    assert jwt.get_unverified_header(issued)["typ"] == "at+jwt"  # RFC 9068 section 2.1
    claims = jwt.decode(issued, options={"verify_signature": False})
    assert claims["iat"] == issued_at
    assert claims["exp"] - claims["iat"] == snippet.TOKEN_TTL_SECONDS == 300
    assert claims["aud"] == "inventory" and claims["sub"] == ORDERS_ID
    cert = x509.load_pem_x509_certificate(pki["orders"].read_bytes())
    assert claims["cnf"] == {"x5t#S256": snippet.thumbprint(cert)}
    assert len(claims["cnf"]["x5t#S256"]) == 43  # unpadded base64url of 32 bytes


def test_an_untyped_or_id_token_typed_jwt_is_refused(pki):
    cert = x509.load_pem_x509_certificate(pki["orders"].read_bytes())
    for typ in (None, "JWT"):  # RFC 8725 section 3.11: explicit typing
        assert call(pki, pki["orders"], bound_token(pki, cert, ORDERS_ID, typ)) == (
            401,
            "unauthorized",
        )
    assert call(pki, pki["orders"], bound_token(pki, cert, ORDERS_ID)) == (200, ORDERS_ID)


def test_wrong_audience_is_refused(pki, handled):
    assert call(pki, pki["orders"], token(pki, audience="payments")) == (401, "unauthorized")
    assert len(handled) == 1  # mTLS passed; the token did not


def test_expired_token_is_refused_and_the_ttl_boundary_holds(pki):
    ttl = snippet.TOKEN_TTL_SECONDS
    old = token(pki, clock=lambda: time.time() - ttl - 2)
    assert call(pki, pki["orders"], old) == (401, "unauthorized")
    almost = token(pki, clock=lambda: time.time() - ttl + 30)
    assert call(pki, pki["orders"], almost) == (200, ORDERS_ID)


def test_token_stolen_by_another_valid_service_is_refused(pki):
    stolen = token(pki, caller="orders")
    assert call(pki, pki["billing"], stolen) == (401, "unauthorized")


def test_forged_tampered_and_missing_tokens_are_refused(pki):
    orders = pki["orders"]
    other_idp = snippet.IdentityService()
    forged = other_idp.token(orders, "inventory")
    assert call(pki, orders, forged) == (401, "unauthorized")

    header, payload, signature = token(pki).split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["sub"] = "spiffe://example.internal/admin"
    evil = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    assert call(pki, orders, f"{header}.{evil}.{signature}") == (401, "unauthorized")

    unsigned = jwt.encode(claims, None, algorithm="none")
    assert call(pki, orders, unsigned) == (401, "unauthorized")
    assert call(pki, orders, "not-a-jwt") == (401, "unauthorized")
    response = raw_call(pki, orders, {})  # no Authorization header at all
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_refused_token_gets_the_invalid_token_challenge(pki):
    response = raw_call(pki, pki["orders"], {"Authorization": "Bearer not-a-jwt"})
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_auth_scheme_is_case_insensitive(pki, scheme):
    response = raw_call(pki, pki["orders"], {"Authorization": f"{scheme} {token(pki)}"})
    assert response.status_code == 200


def test_another_scheme_and_a_non_utf8_header_are_401_not_500(pki):
    for value in ("Basic b3JkZXJzOnB3", b"Bearer \xff\xfe\xfd", "Bearer", "Bearer x y"):
        response = raw_call(pki, pki["orders"], {"Authorization": value})
        assert response.status_code == 401


def test_two_authorization_headers_are_refused(pki):
    good = f"Bearer {token(pki)}"
    headers = [("Authorization", good), ("Authorization", good)]
    response = raw_call(pki, pki["orders"], headers)
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEMS + "invalid-request"


def test_unknown_path_and_other_methods_are_problems(pki):
    auth = {"Authorization": f"Bearer {token(pki)}"}
    response = raw_call(pki, pki["orders"], auth, path="/admin")
    assert (response.status_code, response.json()["type"]) == (404, PROBLEMS + "not-found")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = raw_call(pki, pki["orders"], auth, method=method)
        assert response.status_code == 405 and response.headers["Allow"] == "GET"
        assert response.json()["type"] == PROBLEMS + "method-not-allowed"


def test_fifty_concurrent_callers_get_exactly_their_outcome(pki):
    good, wrong = token(pki), token(pki, audience="payments")
    tokens = [good if i % 5 else wrong for i in range(50)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda t: call(pki, pki["orders"], t), tokens))
    expected = [(200, ORDERS_ID) if i % 5 else (401, "unauthorized") for i in range(50)]
    assert results == expected


def test_a_stalled_connection_is_closed_and_does_not_block_others(pki, monkeypatch):
    """A client that connects and sends nothing (no TLS handshake) must not hold a
    server thread for ever; meanwhile other callers are served."""
    monkeypatch.setattr(snippet, "READ_TIMEOUT_SECONDS", 0.3)
    identity = pki["identity"]
    server, url = snippet.serve(pki["ca_pem"], pki["inventory"], identity.public_key, "inventory")
    try:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=3) as stalled:
            with snippet.client(pki["ca_pem"], pki["orders"]) as http:
                headers = {"Authorization": f"Bearer {token(pki)}"}
                assert http.get(f"{url}/stock/sku_1", headers=headers).status_code == 200
            started = time.monotonic()
            assert stalled.recv(1) == b""  # closed by the server, not by our timeout
            assert time.monotonic() - started < 2
    finally:
        server.shutdown()
        server.server_close()
