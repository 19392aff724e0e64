package org.tensorbuffer.observe;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;

/**
 * Reads memory snapshots with PyTorch's own code, for tests here and in other modules (via the test jar):
 * <ul>
 *   <li>{@link #python(Path)}: Debian's {@code python3-torch} ({@code /usr/bin/python3}) runs
 *       {@code torch.cuda._memory_viz} {@code stats}, {@code segments} and {@code memory} on the snapshot's segments
 *       (script {@code memoryviz/torch_snapshot_check.py});</li>
 *   <li>{@link #memoryViz(Path, String, Path)}: PyTorch's {@code MemoryViz.js} renders it in headless Chromium with
 *       d3 5.16.0 from the npm registry's package (the version its {@code d3@5} import resolves to) instead of the
 *       CDN it imports from.</li>
 * </ul>
 * Each has a {@code ...SkipReason()} that says why it cannot run here (tool or file missing), for
 * {@code Assumptions.assumeTrue(reason == null, reason)}.
 */
public final class TorchSnapshotChecks {
    /** Debian's Python, which has python3-torch. */
    public static final Path PYTHON = Path.of("/usr/bin/python3");
    /** Debian's Chromium. */
    public static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    /** The d3 version MemoryViz.js imports ({@code d3@5}, whose newest release is 5.16.0). */
    public static final String D3_VERSION = "5.16.0";

    private TorchSnapshotChecks() {
    }

    /** Why {@link #python} cannot run, or {@code null}. */
    public static String pythonSkipReason() {
        if (!Files.isExecutable(PYTHON)) {
            return PYTHON + " is missing";
        }
        try {
            Process p = new ProcessBuilder(PYTHON.toString(), "-c", "import torch.cuda._memory_viz")
                    .redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                return "torch is not importable by " + PYTHON + " (apt-get install python3-torch)";
            }
        } catch (IOException | InterruptedException e) {
            return "cannot run " + PYTHON + ": " + e.getMessage();
        }
        return null;
    }

    /**
     * Runs the Python check on {@code pickle}.
     *
     * @return its key=value lines as a map ({@code segments}, {@code total_size}, {@code active_allocated},
     *         {@code trace.alloc}, ...)
     * @throws AssertionError if Python fails (its output is in the message)
     */
    public static Map<String, String> python(Path pickle) throws IOException, InterruptedException {
        Path script = Files.createTempFile("torch_snapshot_check", ".py");
        Files.write(script, resource("memoryviz/torch_snapshot_check.py"));
        Process p = new ProcessBuilder(PYTHON.toString(), script.toString(), pickle.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        boolean done = p.waitFor(300, TimeUnit.SECONDS);
        Files.deleteIfExists(script);
        if (!done || p.exitValue() != 0) {
            throw new AssertionError("torch_snapshot_check.py failed on " + pickle + ":\n" + out);
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return m;
    }

    /** Why {@link #memoryViz} cannot run, or {@code null}. */
    public static String memoryVizSkipReason() {
        if (!Files.isExecutable(CHROMIUM)) {
            return "chromium is not installed (apt-get install chromium)";
        }
        if (TorchSnapshotChecks.class.getClassLoader().getResource("memoryviz/MemoryViz.js") == null) {
            return "PyTorch's torch/utils/viz/MemoryViz.js is not in test resources memoryviz/ (see "
                    + "docs/observability.md, 'Checks with PyTorch's own code')";
        }
        try {
            d3();
        } catch (IOException | InterruptedException e) {
            return "d3 " + D3_VERSION + " is not available from the npm registry: " + e.getMessage();
        }
        return null;
    }

    /** The minified d3 of the npm package, fetched once with {@code npm pack} into {@code target/d3-VERSION}. */
    static Path d3() throws IOException, InterruptedException {
        Path dir = Path.of("target", "d3-" + D3_VERSION).toAbsolutePath();
        Path js = dir.resolve("package/dist/d3.min.js");
        if (Files.isRegularFile(js)) {
            return js;
        }
        Files.createDirectories(dir);
        run(dir, "npm", "pack", "d3@" + D3_VERSION, "--silent");
        run(dir, "tar", "xzf", "d3-" + D3_VERSION + ".tgz");
        if (!Files.isRegularFile(js)) {
            throw new IOException("npm pack d3@" + D3_VERSION + " did not give " + js);
        }
        return js;
    }

    private static void run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(180, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out.strip());
        }
    }

    /** The outcome of a MemoryViz render. */
    public record Render(List<String> errors, String status, BufferedImage screenshot, Path page) {
        /** Pixels that are not (nearly) white or black-on-white text grey: the drawn chart. */
        public int colouredPixels() {
            int n = 0;
            for (int y = 0; y < screenshot.getHeight(); y++) {
                for (int x = 0; x < screenshot.getWidth(); x++) {
                    int rgb = screenshot.getRGB(x, y) & 0xffffff;
                    int r = rgb >> 16 & 255;
                    int g = rgb >> 8 & 255;
                    int b = rgb & 255;
                    n += Math.max(r, Math.max(g, b)) - Math.min(r, Math.min(g, b)) > 40 ? 1 : 0;
                }
            }
            return n;
        }
    }

    /**
     * Renders {@code pickle} with MemoryViz.js in headless Chromium in view {@code view} ({@code Active Memory
     * Timeline}, {@code Allocator State History} or {@code Active Cached Segment Timeline}) and takes a
     * 1200x800 screenshot into {@code png}. The page records uncaught errors, rejected promises and
     * {@code console.error} calls; the DOM is dumped to read them back.
     */
    public static Render memoryViz(Path pickle, String view, Path png) throws IOException, InterruptedException {
        String viz = new String(resource("memoryviz/MemoryViz.js"), StandardCharsets.UTF_8);
        // Serve the bundle instead of the CDN modules: d3 5.x's UMD bundle has every function imported.
        viz = viz.replaceAll("(?m)^import \\* as d3 from .*$", "const d3 = window.d3;")
                .replaceAll("(?m)^import \\{(.*)\\} from \"https://cdn\\.skypack\\.dev/d3-[a-z]+@1\";$",
                        "const {$1} = window.d3;")
                .replace("export function ", "function ");
        if (viz.contains("cdn.skypack.dev")) {
            throw new IllegalStateException("MemoryViz.js still imports from the network");
        }
        String b64 = Base64.getEncoder().encodeToString(Files.readAllBytes(pickle));
        String page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>pending</title>\n<script>\n"
                + "window.__errors = [];\n"
                + "window.addEventListener('error', e => __errors.push('error: ' + e.message));\n"
                + "window.addEventListener('unhandledrejection', e => __errors.push('rejection: ' + e.reason));\n"
                + "const __ce = console.error; console.error = (...a) => { __errors.push('console: ' + a.join(' '));"
                + " __ce(...a); };\n</script>\n"
                + "<script src=\"" + d3().toUri() + "\"></script>\n</head><body>\n<script type=\"module\">\n" + viz
                + "\nadd_local_files([{name: 'snapshot.pickle', base64: '" + b64 + "'}], '" + view + "');\n"
                + "</script>\n<script type=\"module\">\nsetTimeout(() => { const s = document.createElement('pre');"
                + " s.id = 'tb-status'; s.textContent = (__errors.length ? 'ERRORS ' + __errors.join(' | ') : 'OK')"
                + " + ' polygons=' + document.querySelectorAll('polygon').length + ' rects='"
                + " + document.querySelectorAll('rect').length; document.body.appendChild(s); }, 1000);\n"
                + "</script>\n</body></html>\n";
        Path html = png.resolveSibling(png.getFileName().toString().replace(".png", ".html")).toAbsolutePath();
        Files.writeString(html, page);
        String dom = chromium(html, "--dump-dom");
        int at = dom.indexOf("<pre id=\"tb-status\">");
        String status = at < 0 ? "no status (the page did not finish)"
                : dom.substring(at + 20, dom.indexOf("</pre>", at));
        List<String> errors = new ArrayList<>();
        if (!status.startsWith("OK")) {
            errors.add(status);
        }
        Files.deleteIfExists(png);
        chromium(html, "--screenshot=" + png.toAbsolutePath(), "--window-size=1200,800");
        BufferedImage img = ImageIO.read(png.toFile());
        return new Render(errors, status, img, html);
    }

    private static String chromium(Path html, String... extra) throws IOException, InterruptedException {
        Path profile = Files.createTempDirectory("chromium-profile");
        List<String> cmd = new ArrayList<>(List.of(CHROMIUM.toString(), "--headless", "--no-sandbox",
                "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--allow-file-access-from-files",
                "--virtual-time-budget=10000", "--user-data-dir=" + profile));
        cmd.addAll(List.of(extra));
        cmd.add(html.toUri().toString());
        Path log = Files.createTempFile("chromium", ".log");
        Process p = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("chromium did not finish within 180 s");
        }
        return out;
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = TorchSnapshotChecks.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("test resource " + name + " is missing");
            }
            return in.readAllBytes();
        }
    }
}
