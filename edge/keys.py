"""CURVE key files for the publisher and its clients (ZeroMQ's own certificate format).

``generate_keypair(directory, name)`` writes ``<name>.key`` (public, shareable) and
``<name>.key_secret`` (public + secret, mode 0600) atomically; :func:`load_keypair` reads either.
The format is the one ``zmq.auth.load_certificate`` reads, so keys made by other ZeroMQ tools work.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import zmq
import zmq.auth

from crossglg.atomic import atomic_write


def _cert_text(public: bytes, secret: bytes | None) -> str:
    lines = [
        "#   ZeroMQ CURVE certificate written by crossglg-edge",
        f"#   created {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')}",
        "#   the .key_secret file must stay private" if secret else "#   public key: safe to share",
        "metadata",
        "curve",
        f'    public-key = "{public.decode("ascii")}"',
    ]
    if secret:
        lines.append(f'    secret-key = "{secret.decode("ascii")}"')
    return "\n".join(lines) + "\n"


def generate_keypair(directory: str | os.PathLike, name: str) -> tuple[Path, Path]:
    """Create a CURVE key pair; returns ``(public_file, secret_file)``. Refuses to overwrite."""
    if not zmq.has("curve"):
        raise RuntimeError("this libzmq build has no CURVE support")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    pub_path, sec_path = d / f"{name}.key", d / f"{name}.key_secret"
    for p in (pub_path, sec_path):
        if p.exists():
            raise FileExistsError(f"{p} already exists; remove it first to make a new key pair")
    public, secret = zmq.curve_keypair()
    atomic_write(sec_path, _cert_text(public, secret), mode=0o600)
    atomic_write(pub_path, _cert_text(public, None), mode=0o644)
    return pub_path, sec_path


def load_keypair(path: str | os.PathLike) -> tuple[bytes, bytes | None]:
    """Read ``(public_key, secret_key_or_None)`` (Z85 bytes) from a certificate file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"CURVE key file not found: {p}")
    try:
        public, secret = zmq.auth.load_certificate(p)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{p}: not a ZeroMQ CURVE certificate: {exc}") from None
    if not public or len(public) != 40:
        raise ValueError(f"{p}: field 'public-key': expected 40 Z85 characters")
    return public, secret


def load_secret(path: str | os.PathLike) -> tuple[bytes, bytes]:
    """Like :func:`load_keypair` but the secret key is required (server or client identity)."""
    public, secret = load_keypair(path)
    if not secret:
        raise ValueError(f"{path}: field 'secret-key' missing: pass the .key_secret file, not the public .key")
    mode = Path(path).stat().st_mode & 0o077
    if mode:
        # readable by others: still usable, but say so (a leaked server key breaks CURVE)
        import warnings

        warnings.warn(f"{path}: secret key file is readable by group/others (chmod 600 it)", stacklevel=2)
    return public, secret
