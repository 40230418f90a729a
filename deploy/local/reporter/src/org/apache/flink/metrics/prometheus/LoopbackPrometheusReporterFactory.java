package org.apache.flink.metrics.prometheus;

import java.util.Properties;
import org.apache.flink.metrics.MetricConfig;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;
import org.apache.flink.util.PortRange;

/** metrics.reporter.<name>.factory.class: org.apache.flink.metrics.prometheus.LoopbackPrometheusReporterFactory; options host (default 127.0.0.1), port (default 9249, ranges allowed). */
public class LoopbackPrometheusReporterFactory implements MetricReporterFactory {
    static final String ARG_HOST = "host";
    static final String ARG_PORT = "port";

    @Override
    public MetricReporter createMetricReporter(Properties properties) {
        MetricConfig config = (MetricConfig) properties;
        String host = config.getString(ARG_HOST, "127.0.0.1");
        String ports = config.getString(ARG_PORT, "9249");
        return new LoopbackPrometheusReporter(host, new PortRange(ports));
    }
}
