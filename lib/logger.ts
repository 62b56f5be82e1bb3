import pino from 'pino';

/**
 * One structured logger for every process. Secrets are redacted by path as a second line of
 * defence; the first is never to pass them to a log call.
 */
export const logger = pino({
  level: process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'warn' : 'info'),
  base: { service: process.env.SERVICE_NAME },
  redact: {
    paths: ['*.pin', '*.pan', '*.cardNumber', '*.password', '*.secret', '*.webhookSecret', 'req.headers.authorization'],
    censor: '[redacted]',
  },
});

export type Logger = typeof logger;
