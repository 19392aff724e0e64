package org.tensorbuffer.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.plan.AllocationTrace;
import org.tensorbuffer.plan.Recorder;

/**
 * The allocation schedule an einsum instance's contraction path implies, derived without running it: the operands
 * are allocated first, then each pairwise step allocates its result and releases its two inputs (opt_einsum's path
 * convention: the pair's positions in the current operand list are removed and the result appended). A label is
 * kept in an intermediate when another remaining operand or the output has it. The final result escapes.
 *
 * <p>This is the minimum an evaluation allocates; a real evaluation adds the permuted copies its GEMMs need, which
 * the {@code plan} command records instead when it runs the workload.
 */
final class EinsumSchedule {
    private EinsumSchedule() {
    }

    /**
     * The trace of {@code instance} along {@code pathName} ({@code opt_flops} or {@code opt_size}), aligned to
     * {@code alignment}.
     *
     * @throws IOException              if the file cannot be read
     * @throws IllegalArgumentException naming the file and field if the JSON is malformed
     */
    static AllocationTrace trace(Path instance, String pathName, long alignment) throws IOException {
        JsonObject o;
        try (Reader r = Files.newBufferedReader(instance)) {
            o = JsonParser.parseReader(r).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(instance + ": not an einsum instance JSON object (" + e.getMessage()
                    + ")", e);
        }
        String format = field(o, "format_string", instance).getAsString();
        DType dtype = DType.of(field(o, "dtype", instance).getAsString());
        JsonArray shapes = field(o, "shapes", instance).getAsJsonArray();
        JsonObject paths = field(o, "paths", instance).getAsJsonObject();
        if (!paths.has(pathName)) {
            throw new IllegalArgumentException(instance + ": no path '" + pathName + "' (has " + paths.keySet() + ")");
        }
        JsonArray path = paths.getAsJsonObject(pathName).getAsJsonArray("path");
        int arrow = format.indexOf("->");
        if (arrow < 0) {
            throw new IllegalArgumentException(instance + ": format_string has no '->'");
        }
        String[] terms = format.substring(0, arrow).split(",", -1);
        int[] output = format.substring(arrow + 2).codePoints().toArray();
        if (terms.length != shapes.size()) {
            throw new IllegalArgumentException(instance + ": " + terms.length + " terms but " + shapes.size()
                    + " shapes");
        }
        Map<Integer, Long> dims = new HashMap<>();
        List<int[]> labels = new ArrayList<>();
        List<Integer> ids = new ArrayList<>();
        Recorder rec = new Recorder();
        for (int t = 0; t < terms.length; t++) {
            int[] l = terms[t].codePoints().toArray();
            JsonArray s = shapes.get(t).getAsJsonArray();
            if (s.size() != l.length) {
                throw new IllegalArgumentException(instance + ": operand " + t + " has " + l.length + " labels but "
                        + "shape " + s);
            }
            long[] d = new long[l.length];
            for (int k = 0; k < l.length; k++) {
                d[k] = s.get(k).getAsLong();
                dims.put(l[k], d[k]);
            }
            labels.add(l);
            Shape shape = Shape.of(d);
            ids.add(rec.allocated(shape.byteSize(dtype), alignment, shape, dtype));
        }
        for (JsonElement step : path) {
            JsonArray pair = step.getAsJsonArray();
            int a = pair.get(0).getAsInt();
            int b = pair.get(1).getAsInt();
            int hi = Math.max(a, b);
            int lo = Math.min(a, b);
            int[] la = labels.get(a);
            int[] lb = labels.get(b);
            int idA = ids.get(a);
            int idB = ids.get(b);
            labels.remove(hi);
            labels.remove(lo);
            ids.remove(hi);
            ids.remove(lo);
            Set<Integer> keep = new LinkedHashSet<>();
            for (int[] other : labels) {
                for (int c : other) {
                    keep.add(c);
                }
            }
            for (int c : output) {
                keep.add(c);
            }
            List<Integer> res = new ArrayList<>();
            for (int[] src : new int[][] {la, lb}) {
                for (int c : src) {
                    if (keep.contains(c) && !res.contains(c)) {
                        res.add(c);
                    }
                }
            }
            long[] d = new long[res.size()];
            for (int k = 0; k < d.length; k++) {
                d[k] = dims.get(res.get(k));
            }
            Shape shape = Shape.of(d);
            int id = rec.allocated(shape.byteSize(dtype), alignment, shape, dtype);
            rec.released(idA);
            rec.released(idB);
            labels.add(res.stream().mapToInt(Integer::intValue).toArray());
            ids.add(id);
        }
        return rec.finish();
    }

    private static JsonElement field(JsonObject o, String name, Path file) {
        JsonElement e = o.get(name);
        if (e == null || e.isJsonNull()) {
            throw new IllegalArgumentException(file + ": missing field '" + name + "'");
        }
        return e;
    }
}
