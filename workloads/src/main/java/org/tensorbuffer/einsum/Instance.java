package org.tensorbuffer.einsum;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One instance of the einsum benchmark suite (the JSON files of {@code data/einsum/}, MIT, from the strided-rs
 * benchmark suite / einsum-benchmark): an einsum expression, the operand shapes and contraction paths.
 *
 * <p>The fields read are {@code name}, {@code format_string} (row-major labels: one Unicode code point a label, terms
 * separated by {@code ,}, the output after {@code ->}), {@code shapes} (row-major, one list a term), {@code dtype}
 * (only {@code float64}), {@code num_tensors} (optional, checked) and {@code paths} ({@code name -> {"path": [[i, j],
 * ...]}}, opt_einsum's linear format: each step names one or two positions in the current operand list; they are
 * removed and the result is appended at the end).
 *
 * <p>Labels are numbered {@code 0..labelCount()-1} in order of first appearance. Immutable; the arrays handed out are
 * copies only where noted.
 */
public final class Instance {
    private final String name;
    private final int[][] terms;
    private final int[] output;
    private final long[][] shapes;
    private final long[] labelDims;
    private final String[] labelNames;
    private final Map<String, int[][]> paths;

    private Instance(String name, int[][] terms, int[] output, long[][] shapes, long[] labelDims,
                     String[] labelNames, Map<String, int[][]> paths) {
        this.name = name;
        this.terms = terms;
        this.output = output;
        this.shapes = shapes;
        this.labelDims = labelDims;
        this.labelNames = labelNames;
        this.paths = paths;
    }

    /**
     * Reads and validates an instance file.
     *
     * @throws IOException              if the file cannot be read
     * @throws IllegalArgumentException naming the file and the problem if the content is malformed or inconsistent
     *                                  (term count vs shapes, rank vs labels, a label with two sizes, an output label
     *                                  no term has, a path that does not reduce the operands to one, dtype other than
     *                                  float64)
     */
    public static Instance read(Path file) throws IOException {
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            JsonElement root;
            try {
                root = JsonParser.parseReader(r);
            } catch (JsonParseException e) {
                throw new IllegalArgumentException(file + ": not valid JSON: " + jsonError(e), e);
            }
            if (!root.isJsonObject()) {
                throw new IllegalArgumentException(file + ": expected a JSON object");
            }
            return parse(root.getAsJsonObject(), file.toString());
        }
    }

    /** Parses an instance from its JSON text; {@code source} names it in error messages. */
    public static Instance parse(String json, String source) {
        JsonElement root;
        try {
            root = JsonParser.parseString(json);
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(source + ": not valid JSON: " + jsonError(e), e);
        }
        if (!root.isJsonObject()) {
            throw new IllegalArgumentException(source + ": expected a JSON object");
        }
        return parse(root.getAsJsonObject(), source);
    }

    /** Gson's message without the Java class name of its cause ("java.io.EOFException: End of input ..."). */
    private static String jsonError(JsonParseException e) {
        Throwable c = e.getCause();
        String m = c != null && c.getMessage() != null ? c.getMessage() : e.getMessage();
        return m == null ? "malformed" : m.strip();
    }

    private static Instance parse(JsonObject o, String src) {
        try {
            String name = o.has("name") ? o.get("name").getAsString() : src;
            String dtype = require(o, "dtype", src).getAsString();
            if (!dtype.equals("float64")) {
                throw new IllegalArgumentException(src + ": dtype '" + dtype + "' is not supported (float64 only)");
            }
            String format = require(o, "format_string", src).getAsString();
            int arrow = format.indexOf("->");
            if (arrow < 0 || format.indexOf("->", arrow + 1) >= 0) {
                throw new IllegalArgumentException(src + ": format_string '" + format
                        + "' needs exactly one '->' (explicit output)");
            }
            if (format.contains("...")) {
                throw new IllegalArgumentException(src + ": ellipsis ('...') in format_string is not supported");
            }
            String lhs = format.substring(0, arrow);
            String rhs = format.substring(arrow + 2);
            String[] termStrings = lhs.split(",", -1);
            Map<Integer, Integer> ids = new LinkedHashMap<>();
            int[][] terms = new int[termStrings.length][];
            for (int t = 0; t < termStrings.length; t++) {
                terms[t] = termStrings[t].codePoints().map(cp -> ids.computeIfAbsent(cp, k -> ids.size())).toArray();
            }
            int[] output = new int[rhs.codePointCount(0, rhs.length())];
            int oi = 0;
            for (int cp : rhs.codePoints().toArray()) {
                Integer id = ids.get(cp);
                if (id == null) {
                    throw new IllegalArgumentException(src + ": output label '" + Character.toString(cp)
                            + "' appears in no input term");
                }
                for (int p = 0; p < oi; p++) {
                    if (output[p] == id) {
                        throw new IllegalArgumentException(src + ": output label '" + Character.toString(cp)
                                + "' is repeated");
                    }
                }
                output[oi++] = id;
            }
            JsonArray shapesJson = require(o, "shapes", src).getAsJsonArray();
            if (shapesJson.size() != terms.length) {
                throw new IllegalArgumentException(src + ": " + terms.length + " terms in format_string but "
                        + shapesJson.size() + " shapes");
            }
            if (o.has("num_tensors") && o.get("num_tensors").getAsInt() != terms.length) {
                throw new IllegalArgumentException(src + ": num_tensors " + o.get("num_tensors").getAsInt()
                        + " but " + terms.length + " terms in format_string");
            }
            long[] labelDims = new long[ids.size()];
            Arrays.fill(labelDims, -1);
            long[][] shapes = new long[terms.length][];
            for (int t = 0; t < terms.length; t++) {
                JsonArray s = shapesJson.get(t).getAsJsonArray();
                if (s.size() != terms[t].length) {
                    throw new IllegalArgumentException(src + ": term " + t + " '" + termStrings[t] + "' has "
                            + terms[t].length + " labels but shape " + s + " has " + s.size() + " dimensions");
                }
                shapes[t] = new long[s.size()];
                for (int d = 0; d < s.size(); d++) {
                    long dim = s.get(d).getAsLong();
                    if (dim < 0) {
                        throw new IllegalArgumentException(src + ": negative dimension " + dim + " in shape " + t);
                    }
                    int label = terms[t][d];
                    if (labelDims[label] >= 0 && labelDims[label] != dim) {
                        throw new IllegalArgumentException(src + ": label '" + nameOf(ids, label) + "' has size "
                                + labelDims[label] + " and " + dim + " (term " + t + ")");
                    }
                    labelDims[label] = dim;
                    shapes[t][d] = dim;
                }
                long bytes = Double.BYTES;
                for (long dim : shapes[t]) {
                    if (dim != 0 && bytes > Long.MAX_VALUE / dim) {
                        throw new IllegalArgumentException(src + ": shape " + t + " " + s + " has more than "
                                + Long.MAX_VALUE + " bytes of float64");
                    }
                    bytes *= dim;
                }
            }
            String[] labelNames = new String[ids.size()];
            ids.forEach((cp, id) -> labelNames[id] = Character.toString(cp));
            Map<String, int[][]> paths = new LinkedHashMap<>();
            if (o.has("paths")) {
                for (Map.Entry<String, JsonElement> e : o.getAsJsonObject("paths").entrySet()) {
                    JsonElement p = e.getValue().isJsonObject() ? e.getValue().getAsJsonObject().get("path")
                            : e.getValue();
                    if (p == null || !p.isJsonArray()) {
                        throw new IllegalArgumentException(src + ": path '" + e.getKey() + "' has no \"path\" list");
                    }
                    paths.put(e.getKey(), parsePath(p.getAsJsonArray(), terms.length, src, e.getKey()));
                }
            }
            return new Instance(name, terms, output, shapes, labelDims, labelNames, paths);
        } catch (IllegalStateException | UnsupportedOperationException | NumberFormatException
                 | ClassCastException e) {
            throw new IllegalArgumentException(src + ": malformed instance: " + e.getMessage(), e);
        }
    }

    private static int[][] parsePath(JsonArray steps, int operands, String src, String pathName) {
        int[][] path = new int[steps.size()][];
        int count = operands;
        for (int s = 0; s < steps.size(); s++) {
            JsonArray st = steps.get(s).getAsJsonArray();
            if (st.isEmpty() || st.size() > 2) {
                throw new IllegalArgumentException(src + ": path '" + pathName + "' step " + s + " " + st
                        + " must name one or two operands");
            }
            path[s] = new int[st.size()];
            for (int i = 0; i < st.size(); i++) {
                int pos = st.get(i).getAsInt();
                if (pos < 0 || pos >= count) {
                    throw new IllegalArgumentException(src + ": path '" + pathName + "' step " + s + " " + st
                            + " names position " + pos + " of " + count + " operands");
                }
                path[s][i] = pos;
            }
            if (path[s].length == 2 && path[s][0] == path[s][1]) {
                throw new IllegalArgumentException(src + ": path '" + pathName + "' step " + s + " " + st
                        + " names the same operand twice");
            }
            count -= path[s].length - 1;
        }
        if (count != 1) {
            throw new IllegalArgumentException(src + ": path '" + pathName + "' leaves " + count
                    + " operands, not 1");
        }
        return path;
    }

    private static String nameOf(Map<Integer, Integer> ids, int label) {
        for (Map.Entry<Integer, Integer> e : ids.entrySet()) {
            if (e.getValue() == label) {
                return Character.toString(e.getKey());
            }
        }
        return "#" + label;
    }

    private static JsonElement require(JsonObject o, String key, String src) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            throw new IllegalArgumentException(src + ": missing field '" + key + "'");
        }
        return e;
    }

    /** The instance's name (the {@code name} field, else the file). */
    public String name() {
        return name;
    }

    /** Number of input operands. */
    public int operandCount() {
        return terms.length;
    }

    /** Labels of operand {@code k} (label ids, one per axis; a copy). */
    public int[] term(int k) {
        return terms[k].clone();
    }

    /** Output labels (a copy); empty for a scalar result. */
    public int[] output() {
        return output.clone();
    }

    /** Row-major shape of operand {@code k} (a copy). */
    public long[] shape(int k) {
        return shapes[k].clone();
    }

    /** Shape of the result, in output-label order (a copy). */
    public long[] outputShape() {
        long[] s = new long[output.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = labelDims[output[i]];
        }
        return s;
    }

    /** Number of distinct labels. */
    public int labelCount() {
        return labelDims.length;
    }

    /** Size of label {@code id}. */
    public long labelDim(int id) {
        return labelDims[id];
    }

    /** The label's character (one Unicode code point) as it appears in {@code format_string}. */
    public String labelName(int id) {
        return labelNames[id];
    }

    /** Names of the contraction paths in the file, e.g. {@code opt_size}, {@code opt_flops}. */
    public Set<String> pathNames() {
        return paths.keySet();
    }

    /**
     * The named contraction path: step {@code s} lists one or two positions in the current operand list.
     *
     * @throws IllegalArgumentException naming the available paths if there is none of that name
     */
    public int[][] path(String pathName) {
        int[][] p = paths.get(pathName);
        if (p == null) {
            throw new IllegalArgumentException("instance " + name + " has no path '" + pathName + "' (has "
                    + paths.keySet() + ")");
        }
        int[][] c = new int[p.length][];
        for (int i = 0; i < p.length; i++) {
            c[i] = p[i].clone();
        }
        return c;
    }

    /** Labels rendered as in the format string, e.g. {@code ij,jk->ik}. */
    public String formatString() {
        List<String> ts = new ArrayList<>();
        for (int[] t : terms) {
            ts.add(render(t));
        }
        return String.join(",", ts) + "->" + render(output);
    }

    /** Renders label ids as their characters. */
    public String render(int[] labels) {
        StringBuilder sb = new StringBuilder();
        for (int l : labels) {
            sb.append(labelNames[l]);
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return "Instance[" + name + ", " + terms.length + " operands, " + labelDims.length + " labels]";
    }
}
