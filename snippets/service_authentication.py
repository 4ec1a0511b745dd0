"""Service-to-service authentication: mutual TLS from a private CA plus short-lived tokens."""

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
ISSUER = "https://identity.example.internal"
TRUST_DOMAIN = "spiffe://example.internal"
PEM = serialization.Encoding.PEM


def certificate(name: str, key, ca=None, extensions=()) -> x509.Certificate:
    """An X.509 certificate for `key`, signed by `ca` (key, cert) or self-signed."""
    signer, issuer = ca or (key, None)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    return x509.CertificateBuilder(
        issuer_name=issuer.subject if issuer else subject,
        subject_name=subject,
        public_key=key.public_key(),
        serial_number=x509.random_serial_number(),
        not_valid_before=now - dt.timedelta(minutes=1),
        not_valid_after=now + dt.timedelta(hours=CERT_TTL_HOURS),
        extensions=[
            x509.Extension(ext.oid, isinstance(ext, x509.BasicConstraints), ext)
            for ext in extensions
        ],
    ).sign(signer, hashes.SHA256())


def new_ca(name: str) -> tuple:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, certificate(name, key, None, [x509.BasicConstraints(True, 0)])


def workload(ca, name: str, usage, folder: str, *san) -> Path:
    """Key and certificate of one service, in one PEM file as `ssl` loads them."""
    key = ec.generate_private_key(ec.SECP256R1())
    spiffe_id = x509.UniformResourceIdentifier(f"{TRUST_DOMAIN}/{name}")
    extensions = [x509.BasicConstraints(False, None), x509.ExtendedKeyUsage([usage])]
    extensions.append(x509.SubjectAlternativeName([spiffe_id, *san]))
    cert = certificate(name, key, ca, extensions)
    private = serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    path = Path(folder) / f"{name}-{cert.serial_number}.pem"
    path.write_bytes(cert.public_bytes(PEM) + key.private_bytes(PEM, *private))
    return path


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
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        sub = san.value.get_values_for_type(x509.UniformResourceIdentifier)[0]
        now = int(self.clock())
        claims = {"iss": ISSUER, "sub": sub, "aud": audience, "iat": now}
        claims |= {
            "exp": now + TOKEN_TTL_SECONDS,
            "cnf": {"x5t#S256": thumbprint(cert)},
        }
        return jwt.encode(claims, self._key, algorithm="EdDSA")


def verify(token: str, public_key, audience: str, peer: x509.Certificate) -> dict:
    claims = jwt.decode(
        token,
        public_key,
        algorithms=["EdDSA"],  # never taken from the token's own header
        audience=audience,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "sub", "cnf"]},
    )
    if claims["cnf"].get("x5t#S256") != thumbprint(peer):
        raise jwt.InvalidTokenError("token is bound to another certificate")
    return claims


def serve(ca_pem: str, server_pem: Path, public_key, audience: str):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            der = self.connection.getpeercert(binary_form=True)
            peer = x509.load_der_x509_certificate(der)
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            try:
                claims = verify(token, public_key, audience, peer)
                status, body = 200, {"caller": claims["sub"]}
            except jwt.InvalidTokenError as error:
                status, body = 401, {"error": type(error).__name__}
            self.send_response(status)
            if status == 401:  # RFC 6750 section 3
                self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            self.send_header("Content-Type", "application/json")
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
        localhost = x509.DNSName("localhost")
        server_auth = ExtendedKeyUsageOID.SERVER_AUTH
        inventory = workload(ca, "inventory", server_auth, tmp, loopback, localhost)
        orders = workload(ca, "orders", ExtendedKeyUsageOID.CLIENT_AUTH, tmp)
        billing = workload(ca, "billing", ExtendedKeyUsageOID.CLIENT_AUTH, tmp)
        impostor = workload(rogue_ca, "orders", ExtendedKeyUsageOID.CLIENT_AUTH, tmp)
        identity = IdentityService()
        server, url = serve(ca_pem, inventory, identity.public_key, "inventory")

        def call(cert_pem: Path | None, token: str) -> str:
            auth = {"Authorization": f"Bearer {token}"}
            try:
                with client(ca_pem, cert_pem) as http:
                    response = http.get(f"{url}/stock/sku_1", headers=auth)
                return f"{response.status_code} {response.json()}"
            except httpx.TransportError:
                return "refused in the TLS handshake"

        token = identity.token(orders, audience="inventory")
        for cert_pem in (orders, None, impostor, billing):
            print(call(cert_pem, token))
            #> 200 {'caller': 'spiffe://example.internal/orders'}
            #> refused in the TLS handshake
            #> refused in the TLS handshake
            #> 401 {'error': 'InvalidTokenError'}
        print(call(orders, identity.token(orders, audience="payments")))
        #> 401 {'error': 'InvalidAudienceError'}
        identity.clock = lambda: time.time() - TOKEN_TTL_SECONDS - 1
        print(call(orders, identity.token(orders, audience="inventory")))
        #> 401 {'error': 'ExpiredSignatureError'}
        server.shutdown()
