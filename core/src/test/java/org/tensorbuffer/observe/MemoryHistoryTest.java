package org.tensorbuffer.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.chart.SvgCharts;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.MemoryScope;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.observe.MemoryEvent.Kind;
import org.tensorbuffer.testing.TestDevice;

class MemoryHistoryTest {

    @Test
    void recordsAllocFreeAndReservationsWithRunningTotals() {
        TestDevice dev = new TestDevice("hist");
        try (TensorContext ctx = TensorContext.create(dev, AllocationStrategy.REACTIVE)) {
            MemoryHistory h = MemoryHistory.record(ctx, 1000, true);
            Tensor a = ctx.empty(Shape.of(1000), DType.F32);   // 4000 B -> 4096 B class: RESERVE then ALLOC
            Tensor view = a.reshape(10, 100);                   // a view: no event
            Tensor b = ctx.empty(Shape.of(10), DType.F32);      // 64 B class
            a.close();                                          // view still holds the block: no event
            view.close();                                       // FREE of a
            b.close();                                          // FREE of b
            Tensor c = ctx.empty(Shape.of(1000), DType.F32);    // pool hit: ALLOC only
            c.close();
            ctx.pool().emptyCache();                            // UNRESERVE x2
            h.stop();
            ctx.empty(Shape.of(1), DType.F32).close();          // not recorded
            List<MemoryEvent> ev = h.events();
            assertThat(ev).extracting(MemoryEvent::kind).containsExactly(Kind.RESERVE, Kind.ALLOC, Kind.RESERVE,
                    Kind.ALLOC, Kind.FREE, Kind.FREE, Kind.ALLOC, Kind.FREE, Kind.UNRESERVE, Kind.UNRESERVE);
            assertThat(ev).extracting(MemoryEvent::liveBytes).containsExactly(0L, 4096L, 4096L, 4160L, 64L, 0L,
                    4096L, 0L, 0L, 0L);
            assertThat(ev.subList(0, 8)).extracting(MemoryEvent::reservedBytes).containsExactly(4096L, 4096L, 4160L,
                    4160L, 4160L, 4160L, 4160L, 4160L);
            assertThat(ev.get(9).reservedBytes()).isZero();
            assertThat(List.of(ev.get(8).bytes(), ev.get(9).bytes())).containsExactlyInAnyOrder(64L, 4096L);
            MemoryEvent alloc = ev.get(1);
            assertThat(alloc.shape()).isEqualTo("[1000]");
            assertThat(alloc.dtype()).isEqualTo("F32");
            assertThat(alloc.pool()).isEqualTo("BufferPool[hist/default]");
            assertThat(alloc.strategy()).isEqualTo("REACTIVE");
            assertThat(alloc.stack()).contains("MemoryHistoryTest.recordsAllocFreeAndReservationsWithRunningTotals");
            assertThat(ev.get(4).allocId()).isEqualTo(alloc.allocId());
            assertThat(h.peakLiveBytes()).isEqualTo(4160);
            assertThat(h.peakReservedBytes()).isEqualTo(4160);
            assertThat(ctx.allocationListener()).isNull();
        }
    }

    @Test
    void ringBufferKeepsTheNewestEvents() {
        try (TensorContext ctx = TensorContext.create(new TestDevice("ring"), AllocationStrategy.REACTIVE)) {
            ctx.empty(Shape.of(4), DType.F32).close(); // warm the pool: no RESERVE events below
            MemoryHistory h = MemoryHistory.record(ctx, 10, false);
            for (int i = 0; i < 15; i++) {
                ctx.empty(Shape.of(4), DType.F32).close();
            }
            h.stop();
            assertThat(h.recordedCount()).isEqualTo(30);
            assertThat(h.droppedCount()).isEqualTo(20);
            List<MemoryEvent> ev = h.events();
            assertThat(ev).hasSize(10);
            assertThat(ev).extracting(MemoryEvent::seq).containsExactly(20L, 21L, 22L, 23L, 24L, 25L, 26L, 27L,
                    28L, 29L);
            assertThat(ev.get(0).stack()).isNull();
            assertThatThrownBy(() -> MemoryHistory.record(ctx, 0, false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("history capacity 0 must be at least 1");
        }
    }

    /** A small decode-like workload: weights, a growing KV cache, per-step temporaries in scopes. */
    static MemoryHistory workload(TensorContext ctx) {
        MemoryHistory h = MemoryHistory.record(ctx, 10_000, true);
        List<Tensor> weights = new ArrayList<>();
        for (int l = 0; l < 4; l++) {
            weights.add(ctx.empty(Shape.of(256, 256), DType.F32));
        }
        List<Tensor> cache = new ArrayList<>();
        for (int step = 0; step < 24; step++) {
            final int s = step;
            MemoryScope.run(() -> {
                for (int l = 0; l < 4; l++) {
                    ctx.empty(Shape.of(256), DType.F32);
                    ctx.empty(Shape.of(4, s + 1), DType.F32);
                    ctx.empty(Shape.of(1024), DType.F32);
                }
            });
            cache.add(ctx.empty(Shape.of(8, 256), DType.F32));
        }
        cache.forEach(Tensor::close);
        ctx.strategy(AllocationStrategy.NONE);
        MemoryScope.run(() -> ctx.empty(Shape.of(512, 512), DType.F32));
        weights.forEach(Tensor::close);
        h.stop();
        return h;
    }

    @Test
    void htmlPageIsSelfContainedAndListsTheLargestAllocations() throws IOException {
        try (TensorContext ctx = TensorContext.create(new TestDevice("html"), AllocationStrategy.REACTIVE)) {
            MemoryHistory h = workload(ctx);
            String html = MemoryTimelineHtml.render(h);
            assertThat(html).startsWith("<!DOCTYPE html>").contains("<svg id=\"timeline\"")
                    .contains("<polygon class=\"live\"").contains("<polygon class=\"reserved\"")
                    .contains("<svg id=\"allocations\"").contains("<table id=\"peak\"")
                    .contains("[512, 512]").contains("[256, 256]").contains("MemoryHistoryTest.workload");
            assertThat(html.replace("http://www.w3.org/2000/svg", "")).doesNotContain("http:")
                    .doesNotContain("https:").doesNotContain("<script");
            // The peak is the 1 MiB raw tensor plus the four 256 KiB weights.
            assertThat(h.peakLiveBytes()).isEqualTo(4 * 262_144 + 1_048_576);
            int peakTable = html.indexOf("<table id=\"peak\"");
            assertThat(html.indexOf("[512, 512]", peakTable)).isLessThan(html.indexOf("[256, 256]", peakTable));
            Path out = Path.of("target", "memory-timeline-test.html");
            h.writeHtml(out);
            assertThat(Files.readString(out)).isEqualTo(html);
        }
    }

    /**
     * Renders the page in headless Chromium (Debian's {@code chromium}) and checks the screenshot shows the chart:
     * pixels of the live-bytes colour and of the reserved-bytes colour. Skipped when Chromium is not installed.
     */
    @Test
    void timelineRendersInHeadlessChromium() throws Exception {
        Path chromium = Path.of("/usr/bin/chromium");
        Assumptions.assumeTrue(Files.isExecutable(chromium), "chromium is not installed (apt-get install chromium)");
        Path html = Path.of("target", "memory-timeline-render.html").toAbsolutePath();
        Path png = Path.of("target", "memory-timeline-render.png").toAbsolutePath();
        Files.deleteIfExists(png);
        try (TensorContext ctx = TensorContext.create(new TestDevice("render"), AllocationStrategy.REACTIVE)) {
            workload(ctx).writeHtml(html);
        }
        Path profile = Files.createTempDirectory("chromium-profile");
        Process p = new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--hide-scrollbars", "--user-data-dir=" + profile, "--window-size=1100,1200",
                "--screenshot=" + png, html.toUri().toString())
                .redirectErrorStream(true).redirectOutput(Path.of("target", "chromium.log").toFile()).start();
        boolean done = p.waitFor(120, TimeUnit.SECONDS);
        if (!done) {
            p.destroyForcibly();
        }
        assertThat(done).as("chromium finished within 120 s").isTrue();
        assertThat(png).exists();
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(1100);
        int live = 0;
        int reserved = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                int rgb = img.getRGB(x, y) & 0xffffff;
                live += near(rgb, 0x4292c6) || near(rgb, 0x08519c) ? 1 : 0;
                reserved += near(rgb, 0xc6dbef) || near(rgb, 0xcde0f1) ? 1 : 0;
            }
        }
        assertThat(live).as("pixels of the live-bytes area").isGreaterThan(2000);
        assertThat(reserved).as("pixels of the reserved-bytes area").isGreaterThan(500);
    }

    @Test
    void pageNamesWhatRanAndHasTimeAxes() {
        try (TensorContext ctx = TensorContext.create(new TestDevice("axes"), AllocationStrategy.REACTIVE)) {
            MemoryHistory h = workload(ctx);
            h.description("decode model.bin · ./tensorbuffer decode --model model.bin");
            String html = MemoryTimelineHtml.render(h);
            assertThat(html).contains("<p id=\"what\"><b>decode model.bin · ./tensorbuffer decode --model model.bin")
                    .contains("weights included").contains(" ms</text>");
            List<org.w3c.dom.Element> charts = SvgCharts.svgs(html);
            assertThat(charts).extracting(e -> e.getAttribute("id")).containsExactly("timeline", "allocations");
            for (org.w3c.dom.Element chart : charts) {
                // every chart is over time: round ticks in ms or s, and both axes labelled
                List<String> time = SvgCharts.texts(chart, "xtick");
                SvgCharts.assertRoundTicks(time, chart.getAttribute("id") + " time axis");
                assertThat(time).allMatch(t -> t.endsWith(" ms") || t.endsWith(" s"));
                assertThat(SvgCharts.texts(chart, "xlabel")).singleElement().asString().startsWith("time since");
                assertThat(SvgCharts.texts(chart, "ylabel")).hasSize(1);
            }
            List<String> bytes = SvgCharts.texts(charts.get(0), "ytick");
            SvgCharts.assertRoundTicks(bytes, "byte axis");
            String unit = bytes.get(0).substring(bytes.get(0).indexOf(' ') + 1);
            assertThat(bytes).allMatch(t -> t.endsWith(" " + unit));
            // the top tick covers the peak of live and reserved bytes
            assertThat(SvgCharts.value(bytes.get(bytes.size() - 1)) * org.tensorbuffer.chart.AxisTicks.unitBytes(unit))
                    .isGreaterThanOrEqualTo(Math.max(h.peakLiveBytes(), h.peakReservedBytes()));
            assertThat(html).contains("<title>TensorBuffer memory timeline: decode model.bin");
        }
    }

    @Test
    void longShapesAreShortenedInBarLabels() {
        assertThat(MemoryTimelineHtml.shortShape("[512, 512]")).isEqualTo("[512, 512]");
        assertThat(MemoryTimelineHtml.shortShape("[2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, "
                + "2, 2, 2, 2]")).isEqualTo("[2, 2, 2, 2, 2, …] (27-d)");
    }

    private static boolean near(int rgb, int ref) {
        int dr = Math.abs(((rgb >> 16) & 255) - ((ref >> 16) & 255));
        int dg = Math.abs(((rgb >> 8) & 255) - ((ref >> 8) & 255));
        int db = Math.abs((rgb & 255) - (ref & 255));
        return dr + dg + db < 40;
    }
}
