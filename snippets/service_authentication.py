"""Service-to-service authentication: mutual TLS with X509-SVIDs plus short-lived
tokens."""

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TOKEN_TTL_SECONDS = 300
CERT_TTL_HOURS = 24
READ_TIMEOUT_SECONDS = 5  # a connection that stalls (handshake or request) is closed
ISSUER = "https://identity.example.internal"
TRUST_DOMAIN = "spiffe://example.internal"
ALLOWED = {"/stock/": {f"{TRUST_DOMAIN}/orders"}}  # path prefix -> SPIFFE IDs
PEM = serialization.Encoding.PEM
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
LEAF_USAGE = x509.KeyUsage(True, *[False] * 8)  # digitalSignature only
CA_USAGE = x509.KeyUsage(*[False] * 5, True, True, False, False)  # keyCertSign, cRLSign
BOTH_ROLES = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


def certificate(subject: x509.Name, key, ca, extensions) -> x509.Certificate:
    """An X.509 certificate for `key`, signed by `ca` (key, cert) or self-signed."""
    signer, issuer = ca or (key, None)
    now = dt.datetime.now(dt.UTC)
    return x509.CertificateBuilder(
        issuer_name=issuer.subject if issuer else subject,
        subject_name=subject,
        public_key=key.public_key(),
        serial_number=x509.random_serial_number(),
        not_valid_before=now - dt.timedelta(minutes=1),
        not_valid_after=now + dt.timedelta(hours=CERT_TTL_HOURS),
        extensions=[x509.Extension(e.oid, critical, e) for e, critical in extensions],
    ).sign(signer, hashes.SHA256())


def new_ca(name: str) -> tuple:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    domain = x509.SubjectAlternativeName([x509.UniformResourceIdentifier(TRUST_DOMAIN)])
    ext = [(x509.BasicConstraints(True, 0), True), (CA_USAGE, True), (domain, False)]
    return key, certificate(subject, key, None, ext)


def workload(ca, name: str, folder: str, *san, roles=BOTH_ROLES) -> Path:
    """An X509-SVID and its key in one PEM file: one URI SAN, no subject, no CN."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.UniformResourceIdentifier(f"{TRUST_DOMAIN}/{name}"), *san]
    extensions = [
        (x509.BasicConstraints(False, None), True),
        (LEAF_USAGE, True),
        (x509.ExtendedKeyUsage(roles), False),
        (x509.SubjectAlternativeName(names), True),  # critical: the subject is empty
    ]
    cert = certificate(x509.Name([]), key, ca, extensions)
    private = serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    path = Path(folder) / f"{name}-{cert.serial_number}.pem"
    path.write_bytes(cert.public_bytes(PEM) + key.private_bytes(PEM, *private))
    return path


def spiffe_id(cert: x509.Certificate) -> str:
    """The SPIFFE ID of a leaf X509-SVID (its section 5.2), or ValueError."""
    ext = cert.extensions.get_extension_for_class
    uris = ext(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier
    )
    usage, ca = ext(x509.KeyUsage).value, ext(x509.BasicConstraints).value.ca
    if len(uris) != 1 or ca or usage.key_cert_sign or usage.crl_sign:
        raise ValueError("not a leaf X509-SVID")
    if not uris[0].startswith(f"{TRUST_DOMAIN}/") or uris[0] == f"{TRUST_DOMAIN}/":
        raise ValueError("not a SPIFFE ID of this trust domain")
    return uris[0]


def thumbprint(cert: x509.Certificate) -> str:
    """RFC 8705 section 3.1 x5t#S256: base64url SHA-256 of the DER certificate."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class IdentityService:
    """Issues short-lived tokens bound to one audience and one client certificate."""

    def __init__(self, clock=time.time):
        self._key = ed25519.Ed25519PrivateKey.generate()
        self.public_key = self._key.public_key()
        self.clock = clock

    def token(self, caller_pem: Path, audience: str) -> str:
        # A real identity service takes the caller's certificate from its own mTLS
        # connection with the caller (or attests the workload, as SPIRE does).
        cert = x509.load_pem_x509_certificate(caller_pem.read_bytes())
        now = int(self.clock())
        claims = {"iss": ISSUER, "sub": spiffe_id(cert), "aud": audience, "iat": now}
        claims |= {
            "exp": now + TOKEN_TTL_SECONDS,
            "cnf": {"x5t#S256": thumbprint(cert)},
        }
        return jwt.encode(claims, self._key, "EdDSA", headers={"typ": "at+jwt"})


def verify(token: str, public_key, audience: str, peer: x509.Certificate) -> dict:
    decoded = jwt.decode_complete(
        token,
        public_key,
        algorithms=["EdDSA"],  # never taken from the token's own header
        audience=audience,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "sub", "cnf"]},
    )
    claims = decoded["payload"]
    if decoded["header"].get("typ") != "at+jwt":  # RFC 8725 section 3.11
        raise jwt.InvalidTokenError("not an access token")
    if claims["cnf"].get("x5t#S256") != thumbprint(peer):
        raise jwt.InvalidTokenError("token is bound to another certificate")
    return claims


def problem(status: int, slug: str, title: str, detail: str) -> dict:
    body = {"type": PROBLEMS + slug, "title": title, "status": status, "detail": detail}
    return body | {"retryable": False}


def decide(authorizations: list[str], path: str, peer, public_key, audience: str):
    """(status, body, challenge) for one request on an mTLS connection."""
    challenge = 'Bearer realm="api"'
    if len(authorizations) > 1:
        detail = "Send exactly one Authorization header."
        return 400, problem(400, "invalid-request", "Invalid request", detail), None
    scheme, _, token = (authorizations or [""])[0].partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        detail = "A bearer token is required."
        return 401, problem(401, "unauthorized", "Unauthorized", detail), challenge
    try:
        caller = spiffe_id(peer)
        verify(token.strip(), public_key, audience, peer)
    except (jwt.InvalidTokenError, ValueError, x509.ExtensionNotFound):
        detail = "The token is not valid for this caller and this service."
        body = problem(401, "unauthorized", "Unauthorized", detail)
        return 401, body, f'{challenge}, error="invalid_token"'
    route = next((prefix for prefix in ALLOWED if path.startswith(prefix)), None)
    if route is None:
        return 404, problem(404, "not-found", "Not found", f"No resource {path}."), None
    if caller not in ALLOWED[route]:  # authorize on the SPIFFE ID, per endpoint
        detail = f"{caller} may not call {route}."
        return 403, problem(403, "forbidden", "Forbidden", detail), None
    return 200, {"caller": caller}, None


def serve(ca_pem: str, server_pem: Path, public_key, audience: str):
    class Handler(BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT_SECONDS  # the TLS handshake runs in this thread, too

        def do_GET(self):
            peer = x509.load_der_x509_certificate(
                self.connection.getpeercert(binary_form=True)
            )
            authorizations = self.headers.get_all("Authorization") or []
            status, body, challenge = decide(
                authorizations, self.path, peer, public_key, audience
            )
            headers = {"WWW-Authenticate": challenge} if challenge else {}
            self.reply(status, body, headers)

        def do_POST(self):  # and every other method: this service only reads
            body = problem(405, "method-not-allowed", "Method not allowed", "Use GET.")
            self.reply(405, body, {"Allow": "GET"})

        do_PUT = do_PATCH = do_DELETE = do_POST

        def reply(self, status: int, body: dict, headers: dict) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            kind = "application/json" if status == 200 else PROBLEM_JSON
            self.send_header("Content-Type", kind)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED  # no valid client certificate, no service
    context.load_verify_locations(cadata=ca_pem)
    context.load_cert_chain(server_pem)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    server.handle_error = lambda request, address: None  # a refused handshake
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"https://127.0.0.1:{server.server_address[1]}"


def client(ca_pem: str, cert_pem: Path | None) -> httpx.Client:
    context = ssl.create_default_context(cadata=ca_pem)  # verifies the server too
    if cert_pem:
        context.load_cert_chain(cert_pem)
    return httpx.Client(verify=context, timeout=2.0)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        ca, rogue_ca = new_ca("Internal CA"), new_ca("Rogue CA")
        ca_pem = ca[1].public_bytes(PEM).decode()
        loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        inventory = workload(ca, "inventory", tmp, loopback, x509.DNSName("localhost"))
        orders, billing = workload(ca, "orders", tmp), workload(ca, "billing", tmp)
        impostor = workload(rogue_ca, "orders", tmp)
        identity = IdentityService()
        server, url = serve(ca_pem, inventory, identity.public_key, "inventory")

        def call(cert_pem: Path | None, token: str) -> str:
            auth = {"Authorization": f"Bearer {token}"}
            try:
                with client(ca_pem, cert_pem) as http:
                    response = http.get(f"{url}/stock/sku_1", headers=auth)
                body = response.json()
                return f"{response.status_code} {body.get('caller') or body['type']}"
            except httpx.TransportError:
                return "refused in the TLS handshake"

        token = identity.token(orders, audience="inventory")
        for cert_pem in (orders, None, impostor, billing):
            print(call(cert_pem, token))
            #> 200 spiffe://example.internal/orders
            #> refused in the TLS handshake
            #> refused in the TLS handshake
            #> 401 https://api.example.com/problems/unauthorized
        print(call(billing, identity.token(billing, audience="inventory")))
        #> 403 https://api.example.com/problems/forbidden
        print(call(orders, identity.token(orders, audience="payments")))
        #> 401 https://api.example.com/problems/unauthorized
        identity.clock = lambda: time.time() - TOKEN_TTL_SECONDS - 1
        print(call(orders, identity.token(orders, audience="inventory")))
        #> 401 https://api.example.com/problems/unauthorized
        server.shutdown()
