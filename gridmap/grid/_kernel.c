/*
 * Compiled inner loops of gridmap.grid.assign.CellIndex (point to cell assignment).
 *
 * Plain C over arrays, called through ctypes (which releases the GIL, so blocks of points run on threads) from
 * gridmap/grid/assign/kernel.py. Every function does exactly what the numpy code path
 * (gridmap/grid/assign/numpy_engine.py) does, operation for operation in IEEE double arithmetic (compiled with
 * -ffp-contract=off: no fused multiply-add), so both give the same answers; a point whose answer needs more than
 * this (next to a lattice line, or within rounding of a cell edge) is returned as DEFERRED and decided by the numpy
 * path, which asks GEOS.
 *
 * The Python module part is empty: it exists so that setuptools builds and installs this file like any extension.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>

#define DEFERRED (-3)

/* The version of these functions' signatures and meanings: assign/kernel.py refuses a build that does not match (a
 * stale build would be called with the wrong arguments). Raise it with every such change, here and in
 * gridmap.grid.assign.kernel._ABI. */
int64_t gm_abi(void) { return 2; }

/* Lattice index of v, exact against the lattice lines origin + i * size as computed (numpy_engine._floor_exact). */
static inline double floor_exact(double v, double origin, double size)
{
    double i = floor((v - origin) / size);
    if (v < origin + i * size) i -= 1.0;
    if (v >= origin + (i + 1.0) * size) i += 1.0;
    return i;
}

/* Vertex runs of n cells from the cell of each of m vertices (sorted, as shapely.get_coordinates returns them). */
void gm_runs(int64_t m, const int64_t *owner, int64_t n, int64_t *vstart, int64_t *vcount)
{
    for (int64_t i = 0; i < n; i++) vcount[i] = 0;
    for (int64_t j = 0; j < m; j++) vcount[owner[j]]++;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) { vstart[i] = at; at += vcount[i]; }
}

/*
 * One pass over the cells' vertex runs (from shapely.get_coordinates): bounds, lattice bounds, whole squares, holes.
 *   bounds[4 i ..]: xmin ymin xmax ymax of cell i (+inf +inf -inf -inf when it has no vertex; NaN when a
 *                   coordinate is NaN or infinite)
 *   lat[4 i ..]:    floor_exact of those (0 0 -1 -1 when it has no vertex or NaN bounds)
 *   full[i]:   1 if cell i is exactly a lattice square: a polygon (type 3) of 5 vertices with the square as its
 *              bounds, whose 4 sides alternate between changing x and changing y
 *   simple[i]: 1 if cell i is a polygon whose first vertex does not come back before its last (no hole)
 */
void gm_scan(int64_t n, const int64_t *vstart, const int64_t *vcount, const double *xy, const int32_t *types,
             double x0, double y0, double s, double *bounds, int64_t *lat, uint8_t *full, uint8_t *simple)
{
    for (int64_t i = 0; i < n; i++) {
        const int64_t a = vstart[i], m = vcount[i];
        double xmin = INFINITY, ymin = INFINITY, xmax = -INFINITY, ymax = -INFINITY;
        int nan = 0;
        for (const double *v = xy + 2 * a, *end = xy + 2 * (a + m); v < end; v += 2) {
            const double vx = v[0], vy = v[1];
            nan |= !isfinite(vx) | !isfinite(vy);
            xmin = vx < xmin ? vx : xmin;
            xmax = vx > xmax ? vx : xmax;
            ymin = vy < ymin ? vy : ymin;
            ymax = vy > ymax ? vy : ymax;
        }
        if (nan) xmin = ymin = xmax = ymax = NAN;
        double *bo = bounds + 4 * i;
        bo[0] = xmin; bo[1] = ymin; bo[2] = xmax; bo[3] = ymax;
        int64_t *la = lat + 4 * i;
        uint8_t f = 0;
        if (m == 0 || nan) {
            la[0] = la[1] = 0;
            la[2] = la[3] = -1;
        } else {
            const double ixl = floor_exact(xmin, x0, s), iyl = floor_exact(ymin, y0, s);
            const double ixh = floor_exact(xmax, x0, s), iyh = floor_exact(ymax, y0, s);
            la[0] = (int64_t)ixl; la[1] = (int64_t)iyl; la[2] = (int64_t)ixh; la[3] = (int64_t)iyh;
            if (types[i] == 3 && m == 5 && ixh == ixl + 1.0 && iyh == iyl + 1.0 && xmin == x0 + ixl * s
                && xmax == x0 + (ixl + 1.0) * s && ymin == y0 + iyl * s && ymax == y0 + (iyl + 1.0) * s) {
                const double *v = xy + 2 * a;
                int cx[4], cy[4];
                f = 1;
                for (int k = 0; k < 4; k++) {
                    cx[k] = v[2 * k + 2] != v[2 * k];
                    cy[k] = v[2 * k + 3] != v[2 * k + 1];
                    if (cx[k] == cy[k]) f = 0;
                }
                if (cx[0] == cx[1] || cx[1] == cx[2] || cx[2] == cx[3]) f = 0;
            }
        }
        full[i] = f;
        uint8_t simp = types[i] == 3;
        if (simp && m > 0 && !f) {
            const double fx = xy[2 * a], fy = xy[2 * a + 1];
            for (int64_t j = a + 1; j <= a + m - 2; j++) {
                if (xy[2 * j] == fx && xy[2 * j + 1] == fy) { simp = 0; break; }
            }
        }
        simple[i] = simp;
    }
}

/*
 * Shared lattice squares and their candidate cells, on a dense table of nx * ny squares (CellIndex.__init__ does
 * the same with numpy for a sparse table). Three steps, each a call:
 *
 * gm_slots_count: whole squares into table (table[key] = cell; returns -2 - cell for a cell whose square is
 *   already taken: overlapping cells), then for every (cell, square) candidate pair counts, in table[key] =
 *   -1 - count, the pairs of the squares that are not whole. Pairs: every square that the closed bounds of a cell
 *   that is not a square reach, and the squares east, north and north-east of a whole square. Returns the number
 *   of pairs.
 * gm_slots_fill: numbers the shared squares in key order (table[key] = -2 - slot), lists each one's pairs sorted
 *   as CellIndex orders candidates (own square first, then reaching into the open square, then frame order), and
 *   returns the number of shared squares. start has n_pairs + 1 entries; out_w receives (widest, widest reaching).
 * gm_slots_matrix: rows of candidates (all, and those reaching into the open square) padded with -1.
 *
 * lat: the cells' lattice bounds (gm_scan); own_x / own_y: the cells' own square (columns ix / iy, NaN where
 * unknown) or NULL.
 */
#define PAIR_LOOP(BODY)                                                                                          \
    for (int64_t c = 0; c < n; c++) {                                                                            \
        const int64_t *la = lat + 4 * c;                                                                         \
        if (la[2] < la[0] || la[3] < la[1]) continue; /* no vertex */                                           \
        if (full[c]) {                                                                                           \
            for (int d = 0; d < 3; d++) {                                                                        \
                const int64_t px = la[0] + (d != 1), py = la[1] + (d != 0);                                      \
                const int64_t key = (py - iy0) * nx + (px - ix0);                                                \
                if (table[key] < 0) { BODY }                                                                     \
            }                                                                                                    \
        } else {                                                                                                 \
            for (int64_t py = la[1]; py <= la[3]; py++)                                                          \
                for (int64_t px = la[0]; px <= la[2]; px++) {                                                    \
                    const int64_t key = (py - iy0) * nx + (px - ix0);                                            \
                    if (table[key] < 0) { BODY }                                                                 \
                }                                                                                                \
        }                                                                                                        \
    }

int64_t gm_slots_count(int64_t n, const int64_t *lat, const uint8_t *full, int64_t ix0, int64_t iy0, int64_t nx,
                       int64_t *table)
{
    for (int64_t c = 0; c < n; c++) {
        if (!full[c]) continue;
        const int64_t key = (lat[4 * c + 1] - iy0) * nx + (lat[4 * c] - ix0);
        if (table[key] != -1) return -2 - c;
        table[key] = c;
    }
    int64_t n_pairs = 0;
    PAIR_LOOP(table[key] -= 1; n_pairs++;)
    return n_pairs;
}

static inline int pair_before(int64_t ca, uint8_t fa, int64_t cb, uint8_t fb)
{
    /* flags: bit 1 own square, bit 0 reaches into the open square; more flags first, then lower cell */
    return fa != fb ? fa > fb : ca < cb;
}

int64_t gm_slots_fill(int64_t n, const int64_t *lat, const uint8_t *full, const double *bounds, const double *own_x,
                      const double *own_y, double x0, double y0, double s, int64_t ix0, int64_t iy0, int64_t nx,
                      int64_t ny, int64_t *table, int64_t *slot_key, int64_t *start, int64_t *fill,
                      int64_t *pair_cell, uint8_t *pair_flag, int64_t *out_w)
{
    int64_t n_slot = 0, at = 0;
    for (int64_t key = 0; key < nx * ny; key++) {
        const int64_t v = table[key];
        if (v >= -1) continue;
        slot_key[n_slot] = key;
        start[n_slot] = at;
        fill[n_slot] = 0;
        at += -1 - v;
        table[key] = -2 - n_slot;
        n_slot++;
    }
    start[n_slot] = at;
    PAIR_LOOP({
        const int64_t v = table[key];
        if (v <= -2) {
            const int64_t j = -2 - v;
            const double *b = bounds + 4 * c;
            const int reach = (px < la[2] || b[2] > x0 + (double)la[2] * s)
                              && (py < la[3] || b[3] > y0 + (double)la[3] * s);
            const int own = own_x && own_x[c] == (double)px && own_y[c] == (double)py;
            const uint8_t flag = (uint8_t)(2 * own + reach);
            /* insertion into the slot's sorted run */
            int64_t pos = start[j] + fill[j]++;
            while (pos > start[j] && pair_before(c, flag, pair_cell[pos - 1], pair_flag[pos - 1])) {
                pair_cell[pos] = pair_cell[pos - 1];
                pair_flag[pos] = pair_flag[pos - 1];
                pos--;
            }
            pair_cell[pos] = c;
            pair_flag[pos] = flag;
        }
    })
    int64_t w = 0, w_in = 0;
    for (int64_t j = 0; j < n_slot; j++) {
        int64_t k_in = 0;
        for (int64_t q = start[j]; q < start[j + 1]; q++) k_in += pair_flag[q] & 1;
        if (start[j + 1] - start[j] > w) w = start[j + 1] - start[j];
        if (k_in > w_in) w_in = k_in;
    }
    out_w[0] = w;
    out_w[1] = w_in;
    return n_slot;
}

void gm_slots_matrix(int64_t n_slot, const int64_t *start, const int64_t *pair_cell, const uint8_t *pair_flag,
                     int64_t w, int64_t w_in, int64_t *cand, int64_t *cand_in)
{
    for (int64_t j = 0; j < n_slot; j++) {
        int64_t k = 0, k_in = 0;
        for (int64_t q = start[j]; q < start[j + 1]; q++) {
            cand[j * w + k++] = pair_cell[q];
            if (pair_flag[q] & 1) cand_in[j * w_in + k_in++] = pair_cell[q];
        }
        for (; k < w; k++) cand[j * w + k] = -1;
        for (; k_in < w_in; k_in++) cand_in[j * w_in + k_in] = -1;
    }
}

/* Value of the lattice square with this key: the dense table, or a binary search of the sorted keys. */
static inline int64_t square_value(int64_t key, const int64_t *table, const int64_t *keys, const int64_t *vals,
                                   int64_t n_keys)
{
    if (table) return table[key];
    int64_t lo = 0, hi = n_keys;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < key) lo = mid + 1; else hi = mid;
    }
    return (lo < n_keys && keys[lo] == key) ? vals[lo] : -1;
}

/*
 * The candidates of every shared square packed into one array of doubles, square after square, so that a point's
 * test reads one contiguous run of memory (with the cells scattered, following pointers per candidate costs far
 * more than the arithmetic). For square j (row j of cand, -1 padded), from rec[off[j]], per candidate in order:
 *     cell, xmin, ymin, xmax, ymax, m, then m + 1 vertices (x, y): its edges run from vertex to vertex
 * with m = -1 for a whole lattice square (its bounds decide, no vertices). Where one ring of a cell ends and the
 * next begins (ring[e] != ring[e + 1], only from vertex n_main on) a NaN vertex is put between them: no test
 * meets an edge with a NaN end.
 * With rec == NULL only the sizes are computed: off[j + 1] = off[j] + size of square j (off[0] given).
 * Returns the number of squares whose run did not come out at its computed size (0: a check that cannot be off).
 */
int64_t gm_pack(int64_t n_slot, const int64_t *cand, int64_t width, const double *bounds, const uint8_t *full,
                const int64_t *estart, const int64_t *ecount, const double *xy, const int64_t *ring, int64_t n_main,
                int64_t *off, int64_t *count, double *rec)
{
    int64_t wrong = 0;
    for (int64_t j = 0; j < n_slot; j++) {
        int64_t size = 0, k = 0;
        double *r = rec ? rec + off[j] : NULL;
        for (; k < width; k++) {
            const int64_t c = cand[j * width + k];
            if (c < 0) break;
            if (full[c]) {
                if (r) {
                    const double *b = bounds + 4 * c;
                    r[0] = (double)c; r[1] = b[0]; r[2] = b[1]; r[3] = b[2]; r[4] = b[3]; r[5] = -1.0;
                    r += 6;
                }
                size += 6;
                continue;
            }
            const int64_t a = estart[c], m = ecount[c];
            /* rings after the first vertices of all cells only (n_main; before, one ring per cell) */
            const int multi = a >= n_main;
            int64_t gaps = 0;
            if (multi)
                for (int64_t e = a; e < a + m; e++) gaps += ring[e] != ring[e + 1];
            const int64_t me = m + gaps;  /* a gap: (end, NaN) and (NaN, start) replace (end, start) */
            size += 6 + 2 * (me + (m > 0));
            if (!r) continue;
            const double *b = bounds + 4 * c;
            r[0] = (double)c; r[1] = b[0]; r[2] = b[1]; r[3] = b[2]; r[4] = b[3]; r[5] = (double)me;
            r += 6;
            if (m == 0) continue;
            r[0] = xy[2 * a]; r[1] = xy[2 * a + 1];
            r += 2;
            for (int64_t e = a; e < a + m; e++) {
                if (multi && ring[e] != ring[e + 1]) { r[0] = r[1] = NAN; r += 2; }
                r[0] = xy[2 * e + 2]; r[1] = xy[2 * e + 3];
                r += 2;
            }
        }
        if (!rec) {
            off[j + 1] = off[j] + size;
        } else {
            count[j] = k;
            wrong += r != rec + off[j + 1];
        }
    }
    return wrong;
}

/*
 * Does the cell whose m edges run along the vertices at v (m + 1 of them) cover (qx, qy)? 1 / 0, or -1 when the
 * point is on or within rounding of an edge (then GEOS decides). Crossing number of the ray going east, over the
 * edges the horizontal line through q meets (ylo <= qy < yhi), with Shewchuk's error bound on the orientation
 * (CellIndex._covers_block).
 */
static inline int covers(const double *v, int64_t m, double qx, double qy, double bound)
{
    int crossings = 0;
    for (int64_t e = 0; e < m; e++, v += 2) {
        const double x1 = v[0], y1 = v[1], x2 = v[2], y2 = v[3];
        const double lo = y1 < y2 ? y1 : y2, hi = y1 < y2 ? y2 : y1;
        if (lo <= qy && qy < hi) {
            double l1 = (x1 - qx) * (y2 - qy);
            double l2 = (y1 - qy) * (x2 - qx);
            const double det = l1 - l2;
            const double err = (fabs(l1) + fabs(l2)) * bound;
            if (fabs(det) > err) {
                crossings += (det > 0) == (y2 > y1);
            } else {
                const double xa = x1 < x2 ? x1 : x2, xb = x1 < x2 ? x2 : x1;
                if (qx >= xa && qx <= xb) return -1;
                crossings += qx < xa;
            }
        } else if (qy == hi) {
            const double xa = x1 < x2 ? x1 : x2, xb = x1 < x2 ? x2 : x1;
            if (qx >= xa && qx <= xb) return -1;
        }
    }
    return crossings & 1;
}

/* Points of shared squares are tested PREFETCH_AHEAD points after the first lines of their square's run were
 * requested from memory (the runs are scattered over tens of MB: waiting for each would dominate). */
#define PREFETCH_AHEAD 12
#define PREFETCH_LINES 8

/*
 * Cell of each point: out[i] = cell position, -1 (no cell) or DEFERRED (next to a lattice line, or on / within
 * rounding of the edge of a candidate: the numpy path decides). The same steps as CellIndex._lookup_block
 * followed by CellIndex._exact over the candidates reaching into the open square, in their order (packed by
 * gm_pack). scratch: room for n indices. Returns the number of deferred points.
 */
int64_t gm_lookup(int64_t n, const double *x, const double *y, double x0, double y0, double s, double near,
                  int64_t ix0, int64_t iy0, int64_t nx, int64_t ny,
                  const int64_t *table, const int64_t *keys, const int64_t *vals, int64_t n_keys,
                  const int64_t *off, const int64_t *count, const double *rec, double bound, int64_t *out,
                  int64_t *scratch)
{
    int64_t deferred = 0, n_shared = 0;
    const double dnx = (double)nx, dny = (double)ny;
    /* 1. the lattice square of every point: whole squares and empty ones are decided here */
    for (int64_t i = 0; i < n; i++) {
        const double fx = (x[i] - x0) / s, fy = (y[i] - y0) / s;
        const double ixf = floor(fx), iyf = floor(fy);
        const double tx = fabs(fx - ixf - 0.5), ty = fabs(fy - iyf - 0.5);
        if (tx > 0.5 - near || ty > 0.5 - near) { out[i] = DEFERRED; deferred++; continue; }
        const double kx = ixf - (double)ix0, ky = iyf - (double)iy0;
        if (!(kx >= 0 && kx < dnx && ky >= 0 && ky < dny)) { out[i] = -1; continue; }  /* (NaN too) */
        const int64_t v = square_value((int64_t)(ky * dnx + kx), table, keys, vals, n_keys);
        out[i] = v;
        if (v <= -2) scratch[n_shared++] = i;
    }
    /* 2. points of shared squares: their square's candidates in order */
    for (int64_t q = 0; q < n_shared; q++) {
        if (q + PREFETCH_AHEAD < n_shared) {
            const char *ahead = (const char *)(rec + off[-(out[scratch[q + PREFETCH_AHEAD]] + 2)]);
            for (int l = 0; l < PREFETCH_LINES; l++) __builtin_prefetch(ahead + 64 * l);
        }
        const int64_t i = scratch[q];
        const double px = x[i], py = y[i];
        const int64_t j = -(out[i] + 2);
        const double *r = rec + off[j];
        int64_t got = -1;
        for (int64_t k = count[j]; k > 0; k--) {
            const double m = r[5];
            if (px >= r[1] && px <= r[3] && py >= r[2] && py <= r[4]) {
                if (m < 0) { got = (int64_t)r[0]; break; }
                const int hit = covers(r + 6, (int64_t)m, px, py, bound);
                if (hit < 0) { got = DEFERRED; deferred++; break; }
                if (hit) { got = (int64_t)r[0]; break; }
            }
            r += 6 + (m >= 0 ? 2 * ((int64_t)m + (m > 0)) : 0);
        }
        out[i] = got;
    }
    return deferred;
}

static struct PyModuleDef kernel_module = {
    PyModuleDef_HEAD_INIT, "_kernel",
    "Compiled inner loops of gridmap.grid.assign (C functions called through ctypes).", -1, NULL, NULL, NULL, NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&kernel_module); }
