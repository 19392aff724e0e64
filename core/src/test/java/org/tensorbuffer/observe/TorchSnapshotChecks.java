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
 *       CDN it imports from. MemoryViz.js is not committed (fetched outside source stays out of the repository): it
 *       is taken from Debian's {@code pytorch} source package (trixie: PyTorch 2.6.0, whose upstream tarball keeps
 *       {@code torch/utils/viz/MemoryViz.js}; the binary {@code python3-torch} leaves it out), downloaded with
 *       {@code apt-get source} from the Debian archive this machine's apt uses, into a cache under
 *       {@code java.io.tmpdir} shared by the modules' tests; a file put at test resource
 *       {@code memoryviz/MemoryViz.js} is used instead.</li>
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

    /** The Debian suites tried for the pytorch source package, in order (the first with MemoryViz.js wins). */
    static final List<String> DEBIAN_SUITES = List.of("trixie", "stable");

    /** Why {@link #memoryViz} cannot run, or {@code null}. */
    public static String memoryVizSkipReason() {
        if (!Files.isExecutable(CHROMIUM)) {
            return "chromium is not installed (apt-get install chromium)";
        }
        try {
            memoryVizJs();
        } catch (IOException | InterruptedException e) {
            return "PyTorch's torch/utils/viz/MemoryViz.js is neither in test resources memoryviz/ nor obtainable "
                    + "from Debian's pytorch source package: " + e.getMessage();
        }
        try {
            d3();
        } catch (IOException | InterruptedException e) {
            return "d3 " + D3_VERSION + " is not available from the npm registry: " + e.getMessage();
        }
        return null;
    }

    /** The shared cache of fetched test inputs ({@code java.io.tmpdir}/tensorbuffer-test-cache). */
    static Path cacheDir() {
        return Path.of(System.getProperty("java.io.tmpdir"), "tensorbuffer-test-cache");
    }

    /**
     * PyTorch's MemoryViz.js: test resource {@code memoryviz/MemoryViz.js} if present, else (once, then cached) the
     * file of Debian's {@code pytorch} source package, with the package's top-level {@code LICENSE} beside it.
     */
    static synchronized Path memoryVizJs() throws IOException, InterruptedException {
        var res = TorchSnapshotChecks.class.getClassLoader().getResource("memoryviz/MemoryViz.js");
        if (res != null && "file".equals(res.getProtocol())) {
            return Path.of(java.net.URI.create(res.toString()));
        }
        if (res != null) { // in core's test jar, seen from another module
            Path copy = Files.createDirectories(cacheDir().resolve("memoryviz-resource")).resolve("MemoryViz.js");
            Files.write(copy, resource("memoryviz/MemoryViz.js"));
            return copy;
        }
        Path dir = cacheDir().resolve("memoryviz-debian");
        Path js = dir.resolve("MemoryViz.js");
        if (Files.isRegularFile(js)) {
            return js;
        }
        if (!Files.isExecutable(Path.of("/usr/bin/apt-get"))) {
            throw new IOException("apt-get is missing (not a Debian system)");
        }
        String archive = debianArchive();
        Path work = Files.createTempDirectory("tb-apt");
        try {
            List<String> tried = new ArrayList<>();
            for (String suite : DEBIAN_SUITES) {
                try {
                    Path got = fetchFromSourcePackage(work.resolve(suite), archive, suite, dir);
                    if (got != null) {
                        return got;
                    }
                    tried.add(suite + ": the pytorch source has no torch/utils/viz/MemoryViz.js");
                } catch (IOException e) {
                    tried.add(suite + ": " + e.getMessage());
                }
            }
            throw new IOException(String.join("; ", tried));
        } finally {
            deleteTree(work);
        }
    }

    /**
     * The Debian archive this machine's apt uses (its first non-security source, from {@code apt-cache policy}), so
     * that nothing else is contacted.
     */
    static String debianArchive() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("apt-cache", "policy").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(60, TimeUnit.SECONDS);
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("(?m)^\\s*\\d+ (https?://\\S+) ([a-z]+)(-updates)?/main ").matcher(out);
        while (m.find()) {
            if (!m.group(1).contains("security")) {
                return m.group(1);
            }
        }
        throw new IOException("no Debian archive in apt-cache policy");
    }

    /**
     * {@code apt-get source --download-only pytorch} of {@code suite} with a private apt state under {@code work},
     * then MemoryViz.js and LICENSE extracted from the upstream tarball into {@code dest}.
     *
     * @return MemoryViz.js in {@code dest}, or {@code null} if the tarball has none
     */
    private static Path fetchFromSourcePackage(Path work, String archive, String suite, Path dest)
            throws IOException, InterruptedException {
        Path lists = Files.createDirectories(work.resolve("lists/partial")).getParent();
        Files.createDirectories(work.resolve("cache/archives/partial"));
        Files.createDirectories(work.resolve("preferences.d"));
        Path status = Files.writeString(work.resolve("status"), "");
        Path sources = Files.writeString(work.resolve("sources.list"), "deb-src [signed-by=/usr/share/keyrings/"
                + "debian-archive-keyring.gpg] " + archive + " " + suite + " main\n");
        List<String> apt = List.of("-o", "Dir::Etc::SourceList=" + sources, "-o", "Dir::Etc::SourceParts=/dev/null",
                "-o", "Dir::State::Lists=" + lists, "-o", "Dir::Cache=" + work.resolve("cache"),
                "-o", "Dir::State::status=" + status, "-o", "Dir::Etc::Preferences=/dev/null",
                "-o", "Dir::Etc::PreferencesParts=" + work.resolve("preferences.d"),
                "-o", "APT::Sandbox::User=root", "-q");
        List<String> update = new ArrayList<>(List.of("apt-get"));
        update.addAll(apt);
        update.add("update");
        run(work, update.toArray(String[]::new));
        Path src = Files.createDirectories(work.resolve("src"));
        List<String> source = new ArrayList<>(List.of("apt-get"));
        source.addAll(apt);
        source.addAll(List.of("source", "--download-only", "pytorch"));
        run(src, source.toArray(String[]::new));
        Path orig;
        try (var files = Files.list(src)) {
            orig = files.filter(f -> f.getFileName().toString().matches("pytorch_.*\\.orig\\.tar\\.[a-z0-9]+"))
                    .findFirst().orElseThrow(() -> new IOException("apt-get source gave no pytorch .orig tarball"));
        }
        Path out = Files.createDirectories(work.resolve("x"));
        run(out, "tar", "-xf", orig.toString(), "--wildcards", "*/torch/utils/viz/MemoryViz.js");
        Path js;
        try (var found = Files.walk(out)) {
            js = found.filter(f -> f.endsWith(Path.of("torch/utils/viz/MemoryViz.js"))).findFirst().orElse(null);
        }
        if (js == null) {
            return null;
        }
        Path top = out.relativize(js).getName(0);
        run(out, "tar", "-xf", orig.toString(), top + "/LICENSE");
        Files.createDirectories(dest);
        Files.copy(out.resolve(top).resolve("LICENSE"), dest.resolve("LICENSE"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(dest.resolve("SOURCE"), "torch/utils/viz/MemoryViz.js and LICENSE from Debian's source "
                + "package " + orig.getFileName() + " (" + suite + ")\n");
        Path tmp = dest.resolve("MemoryViz.js.part");
        Files.copy(js, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return Files.move(tmp, dest.resolve("MemoryViz.js"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (var all = Files.walk(root)) {
            for (Path f : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        }
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
        if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            String tail = out.strip();
            tail = tail.length() > 400 ? "..." + tail.substring(tail.length() - 400) : tail;
            throw new IOException(cmd[0] + " " + cmd[cmd.length - 1] + " failed: " + tail);
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
        String viz = Files.readString(memoryVizJs());
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
