"""Behaviour of snippets/service_authentication.py: mTLS with a private CA, bound tokens."""

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


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("pki"))
    ca, rogue_ca = snippet.new_ca("Internal CA"), snippet.new_ca("Rogue CA")
    loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    pki = {
        "ca": ca,
        "ca_pem": ca[1].public_bytes(snippet.PEM).decode(),
        "rogue_ca_pem": rogue_ca[1].public_bytes(snippet.PEM).decode(),
        "inventory": snippet.workload(ca, "inventory", SERVER, folder, loopback),
        "orders": snippet.workload(ca, "orders", CLIENT, folder),
        "billing": snippet.workload(ca, "billing", CLIENT, folder),
        "impostor": snippet.workload(rogue_ca, "orders", CLIENT, folder),
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
    original = snippet.verify

    def counting(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(snippet, "verify", counting)
    return calls


def call(pki, cert_pem, token, ca_pem=None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    with snippet.client(ca_pem or pki["ca_pem"], cert_pem) as http:
        response = http.get(f"{pki['url']}/stock/sku_1", headers=headers)
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    return response.status_code, response.json()


def token(pki, caller="orders", audience="inventory", clock=None):
    identity = pki["identity"]
    if clock is None:
        return identity.token(pki[caller], audience)
    saved, identity.clock = identity.clock, clock
    try:
        return identity.token(pki[caller], audience)
    finally:
        identity.clock = saved


def test_valid_certificate_and_token_are_accepted(pki, handled):
    assert call(pki, pki["orders"], token(pki)) == (200, {"caller": ORDERS_ID})
    assert len(handled) == 1


@pytest.mark.parametrize("who", [None, "impostor", "inventory"])
def test_client_without_a_valid_client_certificate_is_refused(pki, handled, who):
    # None: no certificate; impostor: same name and SPIFFE ID, but from another CA;
    # inventory: our CA, but a server-only certificate (extended key usage).
    cert_pem = pki[who] if who else None
    with pytest.raises(httpx.TransportError):
        call(pki, cert_pem, token(pki))
    assert handled == []  # the request never reached the application


def test_expired_client_certificate_is_refused(pki, handled):
    ca_key, ca_cert = pki["ca"]
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    uri = x509.UniformResourceIdentifier(ORDERS_ID)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orders")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=2))
        .not_valid_after(now - dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([uri]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([CLIENT]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    path = pki["folder"] / "expired.pem"
    private = serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    path.write_bytes(cert.public_bytes(snippet.PEM) + key.private_bytes(snippet.PEM, *private))
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
            san = peer.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [
                "spiffe://example.internal/inventory"
            ]
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_token_claims_are_short_lived_and_bound(pki):
    issued_at = 1_800_000_000
    claims = jwt.decode(token(pki, clock=lambda: issued_at), options={"verify_signature": False})
    assert claims["iat"] == issued_at
    assert claims["exp"] - claims["iat"] == snippet.TOKEN_TTL_SECONDS == 300
    assert claims["aud"] == "inventory" and claims["sub"] == ORDERS_ID
    cert = x509.load_pem_x509_certificate(pki["orders"].read_bytes())
    assert claims["cnf"] == {"x5t#S256": snippet.thumbprint(cert)}
    assert len(claims["cnf"]["x5t#S256"]) == 43  # unpadded base64url of 32 bytes


def test_wrong_audience_is_refused(pki, handled):
    assert call(pki, pki["orders"], token(pki, audience="payments")) == (
        401,
        {"error": "InvalidAudienceError"},
    )
    assert len(handled) == 1  # mTLS passed; the token did not


def test_expired_token_is_refused_and_the_ttl_boundary_holds(pki):
    ttl = snippet.TOKEN_TTL_SECONDS
    old = token(pki, clock=lambda: time.time() - ttl - 2)
    assert call(pki, pki["orders"], old) == (401, {"error": "ExpiredSignatureError"})
    almost = token(pki, clock=lambda: time.time() - ttl + 30)
    assert call(pki, pki["orders"], almost) == (200, {"caller": ORDERS_ID})


def test_token_stolen_by_another_valid_service_is_refused(pki):
    stolen = token(pki, caller="orders")
    assert call(pki, pki["billing"], stolen) == (401, {"error": "InvalidTokenError"})
    own = token(pki, caller="billing")
    assert call(pki, pki["billing"], own) == (
        200,
        {"caller": "spiffe://example.internal/billing"},
    )


def test_forged_tampered_and_missing_tokens_are_refused(pki):
    orders = pki["orders"]
    other_idp = snippet.IdentityService()
    forged = other_idp.token(orders, "inventory")
    assert call(pki, orders, forged) == (401, {"error": "InvalidSignatureError"})

    header, payload, signature = token(pki).split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["sub"] = "spiffe://example.internal/admin"
    evil = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    tampered = f"{header}.{evil}.{signature}"
    assert call(pki, orders, tampered) == (401, {"error": "InvalidSignatureError"})

    unsigned = jwt.encode(claims, None, algorithm="none")
    assert call(pki, orders, unsigned) == (401, {"error": "InvalidAlgorithmError"})
    assert call(pki, orders, "not-a-jwt") == (401, {"error": "DecodeError"})
    assert call(pki, orders, None) == (401, {"error": "DecodeError"})  # no header


def test_fifty_concurrent_callers_get_exactly_their_outcome(pki):
    good, wrong = token(pki), token(pki, audience="payments")
    tokens = [good if i % 5 else wrong for i in range(50)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda t: call(pki, pki["orders"], t), tokens))
    expected = [
        (200, {"caller": ORDERS_ID}) if i % 5 else (401, {"error": "InvalidAudienceError"})
        for i in range(50)
    ]
    assert results == expected
