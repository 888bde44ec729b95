"""Reading an Emotive weights file: safetensors (no code runs on load) whose metadata names its
format. One place for the checks every model's loader makes first."""

from __future__ import annotations


def read_weights(path, format_tag: str, what: str) -> tuple[dict, dict]:
    """-> (tensors as numpy arrays, metadata); ValueError naming the file when it is not a
    readable safetensors file or not `what` (its metadata's "format" differs from format_tag)."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:   # safetensors raises its own error types for bad headers
        raise ValueError(f"{path}: not a readable safetensors file ({e})") from e
    if meta.get("format") != format_tag:
        raise ValueError(f"{path}: not an Emotive {what} file (format {meta.get('format')!r}, "
                         f"expected {format_tag!r})")
    return tensors, meta
