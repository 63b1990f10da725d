"""Products and Cholesky solves of small matrices, unrolled into elementwise ops.

Geometry transforms millions of points by 3×3 matrices, and the structured LM multiplies and
solves thousands of 3×3 to 6×6 systems per step, vmapped over tracks. On XLA's CPU backend a batched `dot_general` of 6×6 matrices or a batched
`cholesky` + `triangular_solve` runs one small kernel per matrix, and a small reduction
becomes a library fusion with its own overheads; written out entry by entry, the same
arithmetic is a few hundred scalar ops that XLA fuses into loops over the batch (jax 0.10.2,
2 CPU cores: one 6×6 elimination step of 4096 tracks 10 → 2.6 ms; K @ X for 6.3 M points
115 ms → a few ms). Elementwise products fuse as well on GPU and TPU.
Same arithmetic as the textbook algorithms (no pivoting, no regularisation): results agree
with `a @ b` and `jnp.linalg.cholesky` + `cho_solve` to rounding. Meant for n ≤ ~8: the op
count grows as n³.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def matvec(m: jax.Array, v: jax.Array) -> jax.Array:
  """m @ v (..., n) for m (..., n, k), v (..., k); leading axes broadcast as in einsum."""
  if m.shape[-1] != v.shape[-1]:
    raise ValueError(f'matvec needs m (..., n, k) and v (..., k); got {m.shape} and {v.shape}')
  return sum((m[..., :, j] * v[..., None, j] for j in range(1, m.shape[-1])),
             m[..., :, 0] * v[..., None, 0])


def matmul(a: jax.Array, b: jax.Array) -> jax.Array:
  """a @ b (..., n, m) for a (..., n, k), b (..., k, m), as k broadcast products summed."""
  if a.shape[-1] != b.shape[-2]:
    raise ValueError(f'matmul needs a (..., n, k) and b (..., k, m); got {a.shape} and '
                     f'{b.shape}')
  return sum((a[..., :, k, None] * b[..., None, k, :] for k in range(1, a.shape[-1])),
             a[..., :, 0, None] * b[..., None, 0, :])


def inverse_3x3(m: jax.Array) -> jax.Array:
  """m⁻¹ (..., 3, 3) by the adjugate over the determinant: no LAPACK call (which XLA's CPU
  runtime has been seen to hang on inside large batched loops). inf/NaN where m is singular."""
  if m.shape[-2:] != (3, 3):
    raise ValueError(f'inverse_3x3 needs m (..., 3, 3); got {m.shape}')
  e = lambda i, j: m[..., i, j]
  # Cofactor C_ij; the inverse is Cᵀ / det.
  cof = [[e((i + 1) % 3, (j + 1) % 3) * e((i + 2) % 3, (j + 2) % 3)
          - e((i + 1) % 3, (j + 2) % 3) * e((i + 2) % 3, (j + 1) % 3) for j in range(3)]
         for i in range(3)]
  det = e(0, 0) * cof[0][0] + e(0, 1) * cof[0][1] + e(0, 2) * cof[0][2]
  return jnp.stack([jnp.stack([cof[j][i] for j in range(3)], -1) for i in range(3)],
                   -2) / det[..., None, None]


def cholesky_solve(a: jax.Array, b: jax.Array) -> jax.Array:
  """a⁻¹ b for a (..., n, n) symmetric positive definite, b (..., n, m).

  Reads the lower triangle of a only. NaN (never an error) where a is not positive definite
  in the working precision, as `jnp.linalg.cholesky`, so callers can reject the result.
  """
  n = a.shape[-1]
  if a.shape[-2] != n or b.shape[-2] != n:
    raise ValueError(f'cholesky_solve needs a (..., n, n) and b (..., n, m); got {a.shape} '
                     f'and {b.shape}')
  # Lower factor L (a = L Lᵀ), one (...) array per entry; inv_diag holds 1 / L_ii.
  low: dict[tuple[int, int], jax.Array] = {}
  inv_diag = []
  for j in range(n):
    pivot = a[..., j, j] - sum((low[j, k] * low[j, k] for k in range(j)),
                               jnp.zeros_like(a[..., j, j]))
    root = jnp.sqrt(pivot)  # NaN for a non-positive pivot: propagates to the solution
    inv_diag.append(1. / root)
    for i in range(j + 1, n):
      dot = sum((low[i, k] * low[j, k] for k in range(j)), jnp.zeros_like(pivot))
      low[i, j] = (a[..., i, j] - dot) * inv_diag[j]
  # Forward substitution L y = b, then back substitution Lᵀ x = y; rows are (..., m).
  y = []
  for i in range(n):
    row = b[..., i, :] - sum((low[i, k][..., None] * y[k] for k in range(i)),
                             jnp.zeros_like(b[..., i, :]))
    y.append(row * inv_diag[i][..., None])
  x: list[jax.Array] = [None] * n  # type: ignore[list-item]
  for i in reversed(range(n)):
    row = y[i] - sum((low[k, i][..., None] * x[k] for k in range(i + 1, n)),
                     jnp.zeros_like(y[i]))
    x[i] = row * inv_diag[i][..., None]
  return jnp.stack(x, -2)
