package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.DeviceBuffer;

/**
 * rmsnorm, softmax, silu, rope and attention against values computed by {@code device-cpu/scripts/gen_reference.py}:
 * F64 against NumPy's float64 formulas, F32 against an operation-by-operation float32 emulation of llama2.c's
 * {@code run.c} (within one ulp, so that token choices match run.c; attention within four, its sums being
 * lane-parallel as in run.c built with {@code -Ofast}) and loosely against the float64 values.
 */
class TransformerOpsReferenceTest {
    @RegisterExtension
    static final LeakCheckedDevice LEAK_CHECK = new LeakCheckedDevice();
    private static final CpuDevice DEVICE = LEAK_CHECK.device;
    private static final CpuKernels K = (CpuKernels) DEVICE.kernels();
    private static JsonObject ref;

    @BeforeAll
    static void load() throws Exception {
        try (Reader r = new InputStreamReader(
                TransformerOpsReferenceTest.class.getResourceAsStream("/reference/transformer_ops.json"),
                StandardCharsets.UTF_8)) {
            ref = JsonParser.parseReader(r).getAsJsonObject();
        }
    }

    private static double[] arr(JsonObject o, String key) {
        JsonArray a = o.getAsJsonArray(key);
        double[] v = new double[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).getAsDouble();
        }
        return v;
    }

    /** F32 result within one ulp of run.c's, F64 within 1e-12 relative of NumPy's float64. */
    private static void check(DType t, double[] got, JsonObject c, String f32Key, String f64Key) {
        check(t, got, c, f32Key, f64Key, 1);
    }

    /** F32 result within {@code ulps} ulps of run.c's, F64 within 1e-12 relative of NumPy's float64. */
    private static void check(DType t, double[] got, JsonObject c, String f32Key, String f64Key, int ulps) {
        check(t, got, c, f32Key, f64Key, ulps, false);
    }

    /**
     * As {@link #check(DType, double[], JsonObject, String, String, int)}; with {@code ofLargest} the F32 ulps are
     * those of the largest magnitude in run.c's result (a reassociated sum with cancellation is off by ulps of its
     * terms, not of its small result).
     */
    private static void check(DType t, double[] got, JsonObject c, String f32Key, String f64Key, int ulps,
                              boolean ofLargest) {
        double[] exp64 = arr(c, f64Key);
        assertThat(got).hasSameSizeAs(exp64);
        if (t == DType.F32) {
            double[] runc = arr(c, f32Key);
            float largest = 0;
            for (double r : runc) {
                largest = Math.max(largest, Math.abs((float) r));
            }
            for (int i = 0; i < got.length; i++) {
                float e = (float) runc[i];
                assertThat((float) got[i]).as("%s[%d] vs run.c float32", f32Key, i)
                        .isCloseTo(e, org.assertj.core.data.Offset.offset(ulps * Math.ulp(ofLargest ? largest : e)));
                assertThat(got[i]).as("%s[%d] vs float64", f64Key, i)
                        .isCloseTo(exp64[i], org.assertj.core.data.Offset.offset(1e-5 * (1 + Math.abs(exp64[i]))));
            }
        } else {
            for (int i = 0; i < got.length; i++) {
                assertThat(got[i]).as("%s[%d]", f64Key, i)
                        .isCloseTo(exp64[i], org.assertj.core.data.Offset.offset(1e-12 * (1 + Math.abs(exp64[i]))));
            }
        }
    }

    @Test
    void rmsnorm() {
        JsonObject c = ref.getAsJsonObject("rmsnorm");
        int rows = c.get("rows").getAsInt();
        int cols = c.get("cols").getAsInt();
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            try (NativeFixture f = new NativeFixture(DEVICE)) {
                DeviceBuffer x = f.buffer(t, arr(c, "x"), 3);
                DeviceBuffer w = f.buffer(t, arr(c, "weight"));
                DeviceBuffer out = f.nans(t, (long) rows * cols);
                K.rmsnorm(t, x, 3L * t.byteSize(), w, 0, out, 0, rows, cols, c.get("eps").getAsDouble());
                check(t, f.read(t, out, rows * cols), c, "f32_runc", "f64");
                // in place (out aliases x), as run.c's final rmsnorm(x, x, w)
                K.rmsnorm(t, x, 3L * t.byteSize(), w, 0, x, 3L * t.byteSize(), rows, cols,
                        c.get("eps").getAsDouble());
                check(t, f.read(t, x, 3, rows * cols), c, "f32_runc", "f64");
            }
        }
    }

    @Test
    void softmax() {
        JsonObject c = ref.getAsJsonObject("softmax");
        int rows = c.get("rows").getAsInt();
        int cols = c.get("cols").getAsInt();
        int valid = c.get("validCols").getAsInt();
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            try (NativeFixture f = new NativeFixture(DEVICE)) {
                DeviceBuffer x = f.buffer(t, arr(c, "x"));
                DeviceBuffer out = f.nans(t, (long) rows * cols);
                K.softmax(t, x, 0, out, 0, rows, cols, valid);
                check(t, f.read(t, out, rows * cols), c, "f32_runc", "f64");
                K.softmax(t, x, 0, x, 0, rows, cols, valid); // in place
                check(t, f.read(t, x, rows * cols), c, "f32_runc", "f64");
            }
        }
    }

    @Test
    void silu() {
        JsonObject c = ref.getAsJsonObject("silu");
        int n = c.get("n").getAsInt();
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            try (NativeFixture f = new NativeFixture(DEVICE)) {
                DeviceBuffer x = f.buffer(t, arr(c, "x"));
                DeviceBuffer out = f.nans(t, n);
                K.silu(t, x, 0, out, 0, n);
                check(t, f.read(t, out, n), c, "f32_runc", "f64");
                K.silu(t, x, 0, x, 0, n);
                check(t, f.read(t, x, n), c, "f32_runc", "f64");
            }
        }
    }

    @Test
    void rope() {
        for (JsonElement e : ref.getAsJsonArray("rope")) {
            JsonObject c = e.getAsJsonObject();
            int dim = c.get("dim").getAsInt();
            for (DType t : new DType[] {DType.F32, DType.F64}) {
                try (NativeFixture f = new NativeFixture(DEVICE)) {
                    DeviceBuffer x = f.buffer(t, arr(c, "x"));
                    DeviceBuffer out = f.nans(t, dim);
                    K.rope(t, x, 0, out, 0, dim, c.get("headSize").getAsInt(), c.get("pos").getAsInt());
                    check(t, f.read(t, out, dim), c, "f32_runc", "f64");
                    K.rope(t, x, 0, x, 0, dim, c.get("headSize").getAsInt(), c.get("pos").getAsInt());
                    check(t, f.read(t, x, dim), c, "f32_runc", "f64");
                }
            }
        }
    }

    @Test
    void attention() {
        for (JsonElement e : ref.getAsJsonArray("attention")) {
            JsonObject c = e.getAsJsonObject();
            int nHeads = c.get("nHeads").getAsInt();
            int headSize = c.get("headSize").getAsInt();
            int pos = c.get("pos").getAsInt();
            int attStride = c.get("attStride").getAsInt();
            for (DType t : new DType[] {DType.F32, DType.F64}) {
                try (NativeFixture f = new NativeFixture(DEVICE)) {
                    int es = t.byteSize();
                    DeviceBuffer q = f.buffer(t, arr(c, "q"), 1);
                    DeviceBuffer k = f.buffer(t, arr(c, "k"), 2);
                    DeviceBuffer v = f.buffer(t, arr(c, "v"));
                    DeviceBuffer att = f.nans(t, (long) nHeads * attStride);
                    DeviceBuffer out = f.nans(t, (long) nHeads * headSize);
                    K.attention(t, q, es, k, 2L * es, v, 0, att, 0, attStride, out, 0, nHeads,
                            c.get("nKvHeads").getAsInt(), headSize, pos);
                    // Lane-parallel q.k sums, FMA and four partial sums over positions (as run.c -Ofast
                    // vectorises them): a few ulps of the output's scale, not one ulp of each element.
                    check(t, f.read(t, out, nHeads * headSize), c, "f32_runc", "f64", 4, true);
                    double[] all = f.read(t, att, nHeads * attStride);
                    double[] weights = new double[nHeads * (pos + 1)];
                    for (int h = 0; h < nHeads; h++) {
                        System.arraycopy(all, h * attStride, weights, h * (pos + 1), pos + 1);
                    }
                    // Each weight is exp(score - max) / sum: a score's last-bit difference from run.c's (its q.k
                    // summed in VectorOpsF32.laneSum's fixed tree, not gcc's order) comes back scaled by the score's
                    // magnitude; measured up to 5.2 ulps of the weight on these cases.
                    check(t, weights, c, "att_f32_runc", "att_f64", 8);
                }
            }
        }
    }
}
