package org.tensorbuffer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.tensorbuffer.chart.SvgCharts;
import org.w3c.dom.Element;

/** What every page a command writes must show, read back from the page itself (charts parsed as XML). */
final class PageChecks {
    /** The sentence every timeline page uses to state what "live" means. */
    static final String LIVE = "Live = bytes of the blocks of every tensor of the context not yet closed, weights "
            + "included";

    private PageChecks() {
    }

    /**
     * A memory timeline page: names what ran ({@code what}) and the command ({@code command}, its start), states
     * the meaning of live, and both charts are over time with round ticks and labelled axes.
     */
    static void timeline(String page, String what, String command) {
        assertThat(page).contains("<p id=\"what\"><b>").contains(what).contains(command).contains(LIVE);
        String named = page.substring(page.indexOf("<p id=\"what\"><b>"), page.indexOf("</b></p>"));
        assertThat(named).contains(what).contains(command);
        List<Element> charts = SvgCharts.svgs(page);
        assertThat(charts).extracting(e -> e.getAttribute("id")).containsExactly("timeline", "allocations");
        for (Element chart : charts) {
            SvgCharts.assertRoundTicks(SvgCharts.texts(chart, "xtick"), chart.getAttribute("id") + " time axis");
            assertThat(SvgCharts.texts(chart, "xtick")).allMatch(t -> t.endsWith(" ms") || t.endsWith(" s"));
            assertThat(SvgCharts.texts(chart, "xlabel")).singleElement().asString().startsWith("time since");
            assertThat(SvgCharts.texts(chart, "ylabel")).hasSize(1);
        }
        SvgCharts.assertRoundTicks(SvgCharts.texts(charts.get(0), "ytick"), "byte axis");
    }

    /**
     * The charts of an HTML report: well-formed, a title and a labelled value axis on each, round ticks on linear
     * axes and powers of ten on logarithmic ones.
     *
     * @return the number of charts
     */
    static int reportCharts(String page) {
        List<Element> charts = SvgCharts.svgs(page);
        for (Element chart : charts) {
            String title = String.join(" ", SvgCharts.texts(chart, "title"));
            assertThat(title).as("chart title").isNotBlank();
            List<String> label = SvgCharts.texts(chart, "ylabel");
            assertThat(label).as("value axis label of '%s'", title).singleElement().asString().isNotBlank();
            List<String> ticks = SvgCharts.texts(chart, "ytick");
            if (label.get(0).contains("(log scale)")) {
                for (String t : ticks) {
                    double v = SvgCharts.value(t);
                    assertThat(Math.abs(Math.log10(v) - Math.rint(Math.log10(v)))).as("log tick %s of '%s'", t, title)
                            .isLessThan(1e-9);
                }
            } else {
                SvgCharts.assertRoundTicks(ticks, "'" + title + "'");
            }
        }
        return charts.size();
    }
}
