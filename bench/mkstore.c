/*
 * mkstore.c - build a realistic MDaemon store, and MDaemon-style log files,
 * for tests and benchmarks.
 *
 *   bench/mkstore --out DIR [--domains N] [--mailboxes N] [--messages N]
 *                 [--seed S] [--now EPOCH] [--from-corpus DIR] [--with-index]
 *                 [--fragment] [--logs DIR] [--log-days N] [--log-mb N] [-v]
 *
 * Determinism: every byte follows from --seed and --now (the current time by
 * default; it fixes only the end of the date range, the log file names and
 * the dates written into files). Each folder, message and log day draws from
 * its own PRNG stream keyed by its position in the plan, so options that do
 * not change content (--fragment, --with-index, -v) never shift what another
 * part draws: a store built with and without --fragment has the same bytes.
 *
 * --from-corpus copies real messages byte for byte and leaves their mtimes
 * at the time of the copy, as a migration does.
 *
 * This is a test tool, not part of hiwater: it only ever creates a new tree
 * (it refuses a non-empty --out), so it does not fsync what it writes, except
 * where --fragment needs fsync to force block allocation at each append.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "exitcodes.h"
#include "hiwatermrk.h"
#include "imapmrk.h"
#include "io.h"
#include "store.h"
#include "util.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(r, a) ((a)[rng_below((r), NELEM(a))])

#define DAY 86400
#define GROUP_MAX 16            /* files interleaved together by --fragment */
#define FRAG_CHUNK 4096         /* --fragment appends this much at a time... */
#define FRAG_MAX_ROUNDS 32      /* ...but at most this many appends a file */
#define LOG_CHUNK (64 * 1024)   /* a growing log gets an extent about this big */
#define MSG_MAX (4u << 20)      /* largest generated message */

/* PRNG stream kinds: one independent stream per (kind, a, b) */
enum stream {
	S_DOMAIN = 1, S_MBOX, S_COUNT, S_FOLDER, S_MSG, S_FLAGS, S_INDEX, S_CORPUS, S_LOG,
	S_OTHER,
};

/* ---- PRNG: splitmix64 to seed, xoshiro256** to draw ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_init(struct rng *r, uint64_t seed, enum stream kind, uint64_t a, uint64_t b)
{
	uint64_t x = seed;
	uint64_t h = splitmix64(&x);

	x = h ^ (uint64_t)kind;
	h = splitmix64(&x);
	x = h ^ a;
	h = splitmix64(&x);
	x = h ^ b;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return res;
}

/* [0, n); the modulo bias is far below anything a test could see */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n == 0 ? 0 : rng_next(r) % n;
}

static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static bool rng_chance(struct rng *r, double p)
{
	return rng_unit(r) < p;
}

static double rng_normal(struct rng *r)
{
	double u1 = 1.0 - rng_unit(r), u2 = rng_unit(r);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double rng_lognormal(struct rng *r, double median, double sigma)
{
	return median * exp(sigma * rng_normal(r));
}

/* ---- word lists ---- */

static const char *const first_names[] = {
	"alice", "bob", "carol", "david", "emma", "frank", "grace", "henry", "irene", "jack",
	"karen", "liam", "maria", "nina", "oscar", "paula", "quinn", "rachel", "sam", "tina",
	"ulrich", "vera", "walter", "xenia", "yusuf", "zoe", "ahmed", "bianca", "chen", "dmitri",
	"elena", "fatima", "giorgio", "hana", "ines", "jorge", "kenji", "lucia", "mateo", "noah",
	"olga", "priya", "rafael", "sofia", "tomas", "wei",
};
static const char *const last_names[] = {
	"smith", "jones", "garcia", "miller", "davis", "martin", "mueller", "schmidt", "rossi",
	"dubois", "novak", "kowalski", "tanaka", "sato", "kim", "lee", "nguyen", "silva",
	"santos", "petrov", "ivanova", "jensen", "larsen", "obrien", "murphy", "walsh",
	"fischer", "weber", "moreau", "lopez", "hernandez", "patel", "shah", "khan", "cohen",
	"levy", "berg", "lindqvist", "virtanen", "horvath",
};
/* display names that need RFC 2047, with an ASCII local part */
static const char *const utf8_people[][2] = {
	{ "Ren\xc3\xa9" "e Dupont", "renee.dupont" },
	{ "J\xc3\xbcrgen Gro\xc3\x9f", "j.gross" },
	{ "S\xc3\xb8ren Kierkegaard", "soren.k" },
	{ "Jos\xc3\xa9 N\xc3\xba\xc3\xb1" "ez", "jose.nunez" },
	{ "Zo\xc3\xab Bront\xc3\xab", "zoe.bronte" },
	{ "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e", "yamada" },
	{ "\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd \xd0\x9f\xd0\xb5\xd1\x82\xd1\x80\xd0\xbe\xd0\xb2", "ivan.petrov" },
	{ "Fran\xc3\xa7ois Lef\xc3\xa8vre", "f.lefevre" },
	{ "Ma\xc5\x82gorzata W\xc3\xb3jcik", "m.wojcik" },
	{ "\xc3\x98yvind \xc3\x98" "deg\xc3\xa5rd", "oyvind" },
	{ "\xe6\x9d\x8e \xe5\xa8\x9c", "li.na" },
};
static const char *const ext_domains[] = {
	"gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "web.de", "orange.fr",
	"partner-corp.example", "supplier.example", "lawfirm.example", "bank.example",
	"university.example", "news.example", "shop.example", "travel.example",
};
static const char *const spam_domains[] = {
	"cheap-pills.example", "lottery-win.example", "crypto-boost.example",
	"secure-bank-verify.example", "parcel-notice.example",
};
static const char *const spam_names[] = {
	"Customer Service", "Prize Department", "Account Security", "", "Dr. Money",
};
static const char *const subjects[] = {
	"Meeting notes", "Quarterly report", "Budget review for Q3", "Invoice 2024-0117",
	"Lunch on Friday?", "Project kickoff", "Updated contract draft", "Your order has shipped",
	"Travel itinerary", "Password reset request", "Team offsite planning",
	"Minutes of the board meeting", "Action items from today's call",
	"Server maintenance window", "Welcome aboard!", "Holiday schedule",
	"Expense report approval", "Rescheduled: design review", "Customer feedback summary",
	"Weekly status update", "Draft press release", "Conference registration confirmed",
	"Reminder: timesheets due", "Proposal for the new website", "Thanks for your help",
	"Question about the invoice", "Shipping delay notice", "Monthly newsletter",
	"Security alert: new sign-in", "Annual performance review", "Can we talk tomorrow?",
	"Price list 2025", "Backup job failed on FS01", "Signed NDA attached",
	"Photos from the event", "Office move next week", "Interview schedule",
	"New policy on remote work", "Follow-up on our conversation", "Delivery confirmation",
};
static const char *const utf8_subjects[] = {
	"R\xc3\xa9union budget Q3 \xe2\x80\x94 ordre du jour",
	"Gr\xc3\xbc\xc3\x9f" "e aus M\xc3\xbcnchen",
	"\xc3\x9c" "berweisung best\xc3\xa4tigt",
	"A\xc3\xb1o nuevo, proyectos nuevos",
	"\xe4\xbc\x9a\xe8\xad\xb0\xe3\x81\xae\xe8\xad\xb0\xe4\xba\x8b\xe9\x8c\xb2",
	"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb3\xd0\xbb\xd0\xb0\xd1\x88\xd0\xb5\xd0\xbd\xd0\xb8\xd0\xb5 "
	"\xd0\xbd\xd0\xb0 \xd0\xb2\xd1\x81\xd1\x82\xd1\x80\xd0\xb5\xd1\x87\xd1\x83",
	"\xce\xa3\xcf\x85\xce\xbd\xce\xac\xce\xbd\xcf\x84\xce\xb7\xcf\x83\xce\xb7 \xcf\x84\xce\xb7\xce\xbd "
	"\xce\xa4\xcf\x81\xce\xaf\xcf\x84\xce\xb7",
	"Faktura nr 12/2024 \xe2\x80\x93 przypomnienie",
	"\xc3\x84renden f\xc3\xb6r veckan",
	"Caf\xc3\xa9 \xc3\xa0 15h ?",
	"Za\xc5\xbc\xc3\xb3\xc5\x82\xc4\x87 g\xc4\x99\xc5\x9bl\xc4\x85 ja\xc5\xba\xc5\x84",
	"\xe3\x81\x8a\xe8\xa6\x8b\xe7\xa9\x8d\xe3\x82\x8a\xe3\x81\xae\xe3\x81\x94\xe4\xbe\x9d\xe9\xa0\xbc",
	"Sm\xc3\xb6rg\xc3\xa5sbord p\xc3\xa5 fredag \xf0\x9f\x8e\x89",
};
static const char *const spam_subjects[] = {
	"You have WON $1,000,000", "Cheap meds online", "Verify your account now",
	"Limited offer: 90% off", "Your parcel is waiting", "Crypto profits guaranteed",
};
static const char *const mailers[] = {
	"X-Mailer: Microsoft Outlook 16.0", "User-Agent: Mozilla Thunderbird",
	"X-Mailer: Apple Mail (2.3654.120.0.1.13)", "X-Mailer: MDaemon Webmail 23.5.2",
	"User-Agent: Roundcube Webmail/1.6.5", "X-Mailer: iPhone Mail (21E236)",
};
static const char *const words[] = {
	"the", "of", "and", "to", "in", "is", "for", "that", "on", "with", "as", "we", "it",
	"be", "this", "are", "from", "at", "by", "will", "have", "our", "please", "can", "not",
	"you", "all", "your", "meeting", "report", "project", "budget", "team", "customer",
	"contract", "schedule", "review", "update", "next", "week", "today", "tomorrow",
	"office", "client", "invoice", "order", "delivery", "price", "quote", "proposal",
	"draft", "final", "version", "attached", "document", "file", "server", "backup",
	"network", "account", "password", "access", "support", "issue", "ticket", "request",
	"change", "plan", "quarter", "results", "sales", "revenue", "cost", "estimate",
	"agenda", "minutes", "call", "conference", "travel", "hotel", "flight", "booking",
	"confirm", "approve", "sign", "send", "forward", "reply", "thanks", "regards",
	"question", "answer", "deadline", "priority", "status", "progress", "milestone",
	"release", "launch", "website", "design", "marketing", "campaign", "event", "venue",
	"lunch", "dinner", "coffee", "morning", "afternoon", "evening", "monday", "friday",
	"discuss", "agree", "suggest", "consider", "expect", "provide", "include", "require",
	"important", "urgent", "quick", "short", "long", "new", "old", "first", "last",
	"good", "great", "possible", "available", "necessary", "current", "previous",
	"shipment", "warehouse", "supplier", "partner", "board", "legal", "policy", "audit",
	"training", "workshop", "holiday", "vacation", "deal", "gas", "power", "trading",
	"forecast", "volume", "capacity", "pipeline", "storage", "market", "position",
};

enum fkind {
	FK_INBOX, FK_SENT, FK_DELETED, FK_JUNK, FK_DRAFTS, FK_CALENDAR, FK_CONTACTS, FK_TASKS,
	FK_NOTES, FK_ARCHIVE, FK_ARCHIVE_YEAR, FK_CUSTOM,
};

/* custom folders a user may have made; a group is added whole, parents first */
static const char *const custom_groups[][3] = {
	{ "Newsletters.IMAP" }, { "Receipts.IMAP" }, { "Travel.IMAP" }, { "Old Mail.IMAP" },
	{ "Projects.IMAP", "Projects.IMAP/Q3 Budget.IMAP", "Projects.IMAP/Website Relaunch.IMAP" },
	{ "Clients.IMAP", "Clients.IMAP/Acme Corp.IMAP" }, { "Family & Friends.IMAP" },
};

/* ---- the plan: what will be written where ---- */

struct person {
	char name[96];    /* display name, UTF-8, "" for none */
	char addr[128];
};

struct mbox {
	char *domain;
	char *name;              /* directory name, "alice.smith" */
	struct person owner;
	int tz;                  /* the server's UTC offset, minutes */
	size_t folder0, nfolders;
	bool addrbook, calendar; /* write AddrBook.mrk / Calendar.mrk */
};

struct folder {
	char *rel;               /* below the mailbox: "" (Inbox), "Archive.IMAP/2024.IMAP" */
	enum fkind kind;
	size_t mbox;
	double weight;
	uint64_t count;
	int64_t t0, t1;          /* arrival range [t0, t1) */
	double skew;             /* > 1: arrivals lean to recent */
	char **src;              /* --from-corpus: source files in numbering order */
	size_t nsrc, srccap;
};

struct plan {
	struct mbox *mb;
	size_t nmb, mbcap;
	struct folder *f;
	size_t nf, fcap;
	size_t ndomains;
	int64_t t_start, t_end;
	bool corpus;
};

struct opts {
	const char *out, *corpus, *logs;
	uint64_t domains, mailboxes, messages, seed;
	bool mailboxes_set, messages_set, domains_set;
	bool with_index, fragment, verbose;
	uint64_t log_days;
	double log_mb;
	int64_t now;
};

static void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->nmb; i++) {
		free(p->mb[i].domain);
		free(p->mb[i].name);
	}
	for (size_t i = 0; i < p->nf; i++) {
		free(p->f[i].rel);
		for (size_t j = 0; j < p->f[i].nsrc; j++)
			free(p->f[i].src[j]);
		free(p->f[i].src);
	}
	free(p->mb);
	free(p->f);
	memset(p, 0, sizeof(*p));
}

static struct mbox *plan_mbox_add(struct plan *p, const char *domain, const char *name)
{
	struct mbox *m;

	HW_GROW(p->mb, p->mbcap, p->nmb + 1);
	m = &p->mb[p->nmb++];
	memset(m, 0, sizeof(*m));
	m->domain = hw_strdup(domain);
	m->name = hw_strdup(name);
	m->folder0 = p->nf;
	return m;
}

/* a folder of the last mailbox added; parents must be added before children */
static struct folder *plan_folder_add(struct plan *p, const char *rel, enum fkind kind,
				      double weight)
{
	struct folder *f;

	HW_GROW(p->f, p->fcap, p->nf + 1);
	f = &p->f[p->nf++];
	memset(f, 0, sizeof(*f));
	f->rel = hw_strdup(rel);
	f->kind = kind;
	f->mbox = p->nmb - 1;
	f->weight = weight;
	f->t0 = p->t_start;
	f->t1 = p->t_end;
	f->skew = 1.0;
	p->mb[p->nmb - 1].nfolders++;
	return f;
}

static void capitalize_into(char *dst, size_t size, const char *a, const char *b)
{
	snprintf(dst, size, "%c%s %c%s", a[0] - 'a' + 'A', a + 1, b[0] - 'a' + 'A', b + 1);
}

static int64_t year_start(int year)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mday = 1 };

	return (int64_t)timegm(&tm);
}

static void folder_set_range(struct folder *f, const struct plan *p, int archive_year)
{
	switch (f->kind) {
	case FK_JUNK:
		f->t0 = p->t_end - 30 * DAY;
		break;
	case FK_DELETED:
		f->skew = 3.0;
		break;
	case FK_DRAFTS:
		f->skew = 2.0;
		break;
	case FK_INBOX:
		f->skew = 1.6;
		break;
	case FK_SENT:
		f->skew = 1.3;
		break;
	case FK_CUSTOM:
		f->skew = 1.2;
		break;
	case FK_ARCHIVE:
		f->t1 = p->t_end - 365 * DAY;
		break;
	case FK_ARCHIVE_YEAR: {
		int64_t a = year_start(archive_year), b = year_start(archive_year + 1);
		if (a > f->t0)
			f->t0 = a;
		if (b < f->t1)
			f->t1 = b;
		break;
	}
	default:
		break;
	}
	if (f->t1 <= f->t0) {   /* a year outside the range: the whole range */
		f->t0 = p->t_start;
		f->t1 = p->t_end;
	}
}

static void plan_generated(struct plan *p, const struct opts *o)
{
	static const char *const domain_names[] = {
		"example.com", "example.org", "example.net", "contoso.example", "fabrikam.example",
		"northwind.example", "acme.example", "globex.example",
	};
	static const int tzs[] = { 60, 0, 60, -300, 120, -480, 540, 60 };
	const size_t npairs = NELEM(first_names) * NELEM(last_names);
	double *mbw;
	struct tm tm;
	time_t te;
	int year;

	p->ndomains = o->domains;
	te = (time_t)p->t_end - 1;
	gmtime_r(&te, &tm);
	year = tm.tm_year + 1900;
	mbw = hw_calloc(o->mailboxes, sizeof(*mbw));

	for (uint64_t j = 0; j < o->mailboxes; j++) {
		uint64_t d = j % o->domains, k = j / o->domains;
		/* a walk through the (first, last) pairs that never repeats
		   within npairs: 1201 is prime and does not divide npairs */
		size_t idx = (size_t)((k * 1201 + d * 37 + o->seed) % npairs);
		const char *fn = first_names[idx % NELEM(first_names)];
		const char *ln = last_names[idx / NELEM(first_names)];
		char dom[64], name[96];
		struct rng dr, r;
		struct mbox *m;
		double fw[64], sum = 0;
		size_t f0;

		if (d < NELEM(domain_names))
			hw_strlcpy(dom, domain_names[d], sizeof(dom));
		else
			snprintf(dom, sizeof(dom), "domain%" PRIu64 ".example", d + 1);
		if (k < npairs)
			snprintf(name, sizeof(name), "%s.%s", fn, ln);
		else
			snprintf(name, sizeof(name), "%s.%s%" PRIu64, fn, ln, k / npairs + 1);
		m = plan_mbox_add(p, dom, name);
		rng_init(&dr, o->seed, S_DOMAIN, d, 0);
		m->tz = PICK(&dr, tzs);
		capitalize_into(m->owner.name, sizeof(m->owner.name), fn, ln);
		snprintf(m->owner.addr, sizeof(m->owner.addr), "%s@%s", name, dom);

		rng_init(&r, o->seed, S_MBOX, j, 0);
		mbw[j] = rng_lognormal(&r, 1.0, 0.8);
		m->addrbook = rng_chance(&r, 0.5);
		m->calendar = rng_chance(&r, 0.35);
		f0 = p->nf;
		plan_folder_add(p, "", FK_INBOX, 45);
		plan_folder_add(p, "Sent Items.IMAP", FK_SENT, 15);
		plan_folder_add(p, "Deleted Items.IMAP", FK_DELETED, 10);
		plan_folder_add(p, "Junk E-mail.IMAP", FK_JUNK, 3);
		plan_folder_add(p, "Drafts.IMAP", FK_DRAFTS, 0.5);
		if (rng_chance(&r, 0.7)) {
			plan_folder_add(p, "Calendar.IMAP", FK_CALENDAR, 0.4);
			plan_folder_add(p, "Contacts.IMAP", FK_CONTACTS, 0.2);
			plan_folder_add(p, "Tasks.IMAP", FK_TASKS, 0.2);
			plan_folder_add(p, "Notes.IMAP", FK_NOTES, 0.1);
		}
		if (rng_chance(&r, 0.45)) {
			char rel[64];
			plan_folder_add(p, "Archive.IMAP", FK_ARCHIVE, 1);
			for (int y = 1; y <= 2; y++) {
				struct folder *f;
				snprintf(rel, sizeof(rel), "Archive.IMAP/%d.IMAP", year - y);
				f = plan_folder_add(p, rel, FK_ARCHIVE_YEAR, 7 - y);
				folder_set_range(f, p, year - y);
			}
		}
		{
			/* a few custom groups, picked without repeats */
			size_t order[NELEM(custom_groups)], n = rng_below(&r, 4);
			for (size_t i = 0; i < NELEM(order); i++)
				order[i] = i;
			for (size_t i = 0; i < n; i++) {
				size_t jj = i + rng_below(&r, NELEM(order) - i), t = order[i];
				order[i] = order[jj];
				order[jj] = t;
			}
			for (size_t i = 0; i < n; i++)
				for (size_t g = 0; g < 3 && custom_groups[order[i]][g] != NULL; g++)
					plan_folder_add(p, custom_groups[order[i]][g], FK_CUSTOM,
							g == 0 ? 2.5 : 2);
		}
		for (size_t i = f0; i < p->nf; i++) {
			if (p->f[i].kind != FK_ARCHIVE_YEAR)
				folder_set_range(&p->f[i], p, 0);
			fw[i - f0] = p->f[i].weight * (0.5 + rng_unit(&r));
			sum += fw[i - f0];
		}
		for (size_t i = f0; i < p->nf; i++)
			p->f[i].weight = mbw[j] * fw[i - f0] / sum;
	}

	/* spread exactly o->messages over the folders by weight */
	{
		double *cum = hw_calloc(p->nf, sizeof(*cum)), acc = 0;
		struct rng r;
		for (size_t i = 0; i < p->nf; i++) {
			acc += p->f[i].weight;
			cum[i] = acc;
		}
		rng_init(&r, o->seed, S_COUNT, 0, 0);
		for (uint64_t n = 0; n < o->messages && p->nf > 0; n++) {
			double u = rng_unit(&r) * acc;
			size_t lo = 0, hi = p->nf - 1;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				if (cum[mid] > u)
					hi = mid;
				else
					lo = mid + 1;
			}
			p->f[lo].count++;
		}
		free(cum);
	}
	free(mbw);
}

/* ---- --from-corpus: lay real files out as a migration would ---- */

struct ent {
	char *name;
	bool dir;
};

/* all-digit names sort as numbers ("2" before "10"), the rest bytewise */
static int cmp_natural(const char *a, const char *b)
{
	size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");

	if (la > 0 && lb > 0 && a[la] == '\0' && b[lb] == '\0') {
		while (la > 1 && *a == '0')
			a++, la--;
		while (lb > 1 && *b == '0')
			b++, lb--;
		if (la != lb)
			return la < lb ? -1 : 1;
	}
	return strcmp(a, b);
}

static int cmp_ent(const void *a, const void *b)
{
	return cmp_natural(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

static void ents_free(struct ent *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* regular files and directories of path, sorted; symlinks and special files
   are skipped (never followed). -1 on error. */
static int dir_list(const char *path, struct ent **v_r, size_t *n_r, struct hw_error *err)
{
	struct ent *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(path);

	*v_r = NULL;
	*n_r = 0;
	if (d == NULL)
		return hw_error_sys(err, "opendir", path);
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct stat sb;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			char *pp = hw_path_join(path, de->d_name);
			hw_error_sys(err, "stat", pp);
			free(pp);
			closedir(d);
			ents_free(v, n);
			return -1;
		}
		if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
			continue;
		HW_GROW(v, cap, n + 1);
		v[n].name = hw_strdup(de->d_name);
		v[n].dir = S_ISDIR(sb.st_mode);
		n++;
	}
	if (errno != 0) {
		hw_error_sys(err, "readdir", path);
		closedir(d);
		ents_free(v, n);
		return -1;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(v[0]), cmp_ent);
	*v_r = v;
	*n_r = n;
	return 0;
}

static bool is_dir(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* a directory name made safe as a mailbox or folder name */
static char *name_sanitize(const char *s, bool mailbox)
{
	char *r = hw_strdup(*s != '\0' ? s : "unnamed");

	for (char *c = r; *c != '\0'; c++) {
		unsigned char u = (unsigned char)*c;
		bool ok = mailbox ? ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
				     (u >= '0' && u <= '9') || u == '.' || u == '-' || u == '_')
				  : (u >= 0x20 && u != 0x7f && u != '/');
		if (!ok)
			*c = '_';
	}
	if (r[0] == '.')
		r[0] = '_';
	return r;
}

static void folder_src_add(struct folder *f, char *path)
{
	HW_GROW(f->src, f->srccap, f->nsrc + 1);
	f->src[f->nsrc++] = path;
}

struct corpus_walk {
	struct plan *p;
	const struct opts *o;
	uint64_t taken;            /* messages planned so far */
	size_t share[5];           /* folder indexes: Inbox and the share folders */
	struct rng r;              /* the share draw of this mailbox */
};

static bool corpus_full(const struct corpus_walk *cw)
{
	return cw->o->messages_set && cw->taken >= cw->o->messages;
}

/* files of dir (and below, when flatten) into the Inbox and share folders;
   with !flatten, subdirectories become nested folders below 'rel' */
static int corpus_add_dir(struct corpus_walk *cw, const char *dir, const char *rel,
			  bool flatten, size_t folder, struct hw_error *err)
{
	struct ent *v;
	size_t n;
	int ret = 0;

	if (dir_list(dir, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && !corpus_full(cw); i++) {
		char *path = hw_path_join(dir, v[i].name);
		if (!v[i].dir) {
			size_t to = folder;
			if (to == SIZE_MAX) {
				/* the Inbox, with a share into a few folders */
				static const double share[] = { 0.80, 0.07, 0.06, 0.04, 0.03 };
				double u = rng_unit(&cw->r), acc = 0;
				to = cw->share[0];
				for (size_t s = 0; s < NELEM(share); s++) {
					acc += share[s];
					if (u < acc) {
						to = cw->share[s];
						break;
					}
				}
			}
			folder_src_add(&cw->p->f[to], path);
			cw->taken++;
			continue;
		}
		if (flatten) {
			ret = corpus_add_dir(cw, path, rel, true, folder, err);
		} else {
			char *sub = name_sanitize(v[i].name, false);
			char *frel = *rel != '\0' ? hw_asprintf("%s/%s.IMAP", rel, sub)
						  : hw_asprintf("%s.IMAP", sub);
			size_t fi = cw->p->nf;
			plan_folder_add(cw->p, frel, FK_CUSTOM, 0);
			ret = corpus_add_dir(cw, path, frel, false, fi, err);
			free(frel);
			free(sub);
		}
		free(path);
		if (ret < 0)
			break;
	}
	ents_free(v, n);
	return ret;
}

static void corpus_mbox_begin(struct corpus_walk *cw, const char *domain, const char *name)
{
	struct plan *p = cw->p;
	char *safe = name_sanitize(name, true);
	char *uniq = hw_strdup(safe);
	struct mbox *m;

	/* sanitising may make two names equal */
	for (unsigned k = 2;; k++) {
		bool clash = false;
		for (size_t i = 0; i < p->nmb; i++)
			if (strcmp(p->mb[i].domain, domain) == 0 && strcmp(p->mb[i].name, uniq) == 0)
				clash = true;
		if (!clash)
			break;
		free(uniq);
		uniq = hw_asprintf("%s-%u", safe, k);
	}
	m = plan_mbox_add(p, domain, uniq);
	snprintf(m->owner.addr, sizeof(m->owner.addr), "%s@%s", uniq, domain);
	free(uniq);
	free(safe);
	rng_init(&cw->r, cw->o->seed, S_CORPUS, p->nmb - 1, 0);
	cw->share[0] = p->nf;
	plan_folder_add(p, "", FK_INBOX, 0);
	plan_folder_add(p, "Sent Items.IMAP", FK_SENT, 0);
	cw->share[1] = p->nf;
	plan_folder_add(p, "Deleted Items.IMAP", FK_DELETED, 0);
	plan_folder_add(p, "Drafts.IMAP", FK_DRAFTS, 0);
	plan_folder_add(p, "Junk E-mail.IMAP", FK_JUNK, 0);
	cw->share[2] = p->nf;
	plan_folder_add(p, "Archive.IMAP", FK_ARCHIVE, 0);
	cw->share[3] = p->nf;
	plan_folder_add(p, "Saved Mail.IMAP", FK_CUSTOM, 0);
	cw->share[4] = p->nf;
	plan_folder_add(p, "Saved Mail.IMAP/Deals.IMAP", FK_CUSTOM, 0);
}

/* the Enron layout root (a dir whose users have an inbox/), or NULL */
static char *enron_root(const char *dir)
{
	char *cands[3] = { hw_strdup(dir), hw_path_join(dir, "maildir"), NULL };
	struct ent *v;
	size_t n;
	struct hw_error e;
	char *found = NULL;

	/* DIR/<one subdir>/maildir, as the tarball unpacks */
	if (dir_list(dir, &v, &n, &e) == 0) {
		for (size_t i = 0; i < n && cands[2] == NULL; i++) {
			char *sub = hw_path_join(dir, v[i].name);
			char *md = hw_path_join(sub, "maildir");
			free(sub);
			if (v[i].dir && is_dir(md))
				cands[2] = md;
			else
				free(md);
		}
		ents_free(v, n);
	}
	for (size_t c = 0; c < 3 && found == NULL; c++) {
		if (cands[c] == NULL || dir_list(cands[c], &v, &n, &e) < 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			char *u = hw_path_join(cands[c], v[i].name);
			char *in = hw_path_join(u, "inbox");
			bool yes = v[i].dir && is_dir(in);
			free(u);
			free(in);
			if (yes) {
				found = hw_strdup(cands[c]);
				break;
			}
		}
		ents_free(v, n);
	}
	for (size_t c = 0; c < 3; c++)
		free(cands[c]);
	return found;
}

static int plan_corpus(struct plan *p, const struct opts *o, struct hw_error *err)
{
	struct corpus_walk cw = { .p = p, .o = o };
	char *root = enron_root(o->corpus);
	struct ent *v;
	size_t n;
	int ret = 0;

	p->corpus = true;
	if (root != NULL) {
		/* maildir/<user>/inbox/<N>: one mailbox per user; inbox
		   subdirectories become nested folders */
		p->ndomains = 1;
		if (dir_list(root, &v, &n, err) < 0) {
			free(root);
			return -1;
		}
		for (size_t i = 0; i < n && ret == 0 && !corpus_full(&cw); i++) {
			char *u = hw_path_join(root, v[i].name);
			char *in = hw_path_join(u, "inbox");
			if (v[i].dir && is_dir(in) &&
			    !(o->mailboxes_set && p->nmb >= o->mailboxes)) {
				corpus_mbox_begin(&cw, "enron.com", v[i].name);
				ret = corpus_add_dir(&cw, in, "", false, SIZE_MAX, err);
			}
			free(u);
			free(in);
		}
		ents_free(v, n);
		free(root);
		return ret;
	}
	/* any other tree: a mailbox per top-level directory, files at the top
	   into "corpus"; every regular file is a message */
	p->ndomains = 1;
	if (dir_list(o->corpus, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && ret == 0 && !corpus_full(&cw); i++) {
		char *path = hw_path_join(o->corpus, v[i].name);
		if (v[i].dir && !(o->mailboxes_set && p->nmb >= o->mailboxes)) {
			corpus_mbox_begin(&cw, "corpus.example", v[i].name);
			ret = corpus_add_dir(&cw, path, "", true, SIZE_MAX, err);
		}
		free(path);
	}
	{
		bool top_files = false;
		for (size_t i = 0; i < n; i++)
			top_files |= !v[i].dir;
		if (ret == 0 && top_files && !corpus_full(&cw) &&
		    !(o->mailboxes_set && p->nmb >= o->mailboxes)) {
			corpus_mbox_begin(&cw, "corpus.example", "corpus");
			/* only the top-level files: directories were mailboxes */
			for (size_t i = 0; i < n && !corpus_full(&cw); i++) {
				if (v[i].dir)
					continue;
				folder_src_add(&p->f[cw.share[0]], hw_path_join(o->corpus, v[i].name));
				cw.taken++;
			}
		}
	}
	ents_free(v, n);
	return ret;
}

/* ---- message text ---- */

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_add(struct hw_buf *b, const unsigned char *p, size_t n)
{
	char out[4];

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[0] = b64chars[(v >> 18) & 63];
		out[1] = b64chars[(v >> 12) & 63];
		out[2] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		out[3] = i + 2 < n ? b64chars[v & 63] : '=';
		hw_buf_add(b, out, 4);
	}
}

static bool is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static size_t utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

static bool q_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '!' || c == '*' || c == '+' || c == '-' || c == '/' || c == ' ';
}

/* RFC 2047 encoded words for s (UTF-8), each at most 75 characters, split on
   character boundaries, folded onto continuation lines */
static void words_encode(struct hw_buf *b, const char *s, bool q)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	bool first = true;

	while (n > 0) {
		size_t take = 0, width = 0;
		while (take < n) {
			size_t cl = utf8_len(p[take]), cw = 0;
			if (take + cl > n)
				cl = n - take;
			for (size_t k = 0; k < cl; k++)
				cw += q ? (q_safe(p[take + k]) ? 1 : 3) : 0;
			if (q ? width + cw > 63 : take + cl > 45)
				break;
			width += cw;
			take += cl;
		}
		if (take == 0)
			take = n < 4 ? n : utf8_len(p[0]);
		if (!first)
			hw_buf_adds(b, "\r\n ");
		first = false;
		hw_buf_adds(b, q ? "=?UTF-8?Q?" : "=?UTF-8?B?");
		if (q) {
			for (size_t k = 0; k < take; k++) {
				if (p[k] == ' ')
					hw_buf_addc(b, '_');
				else if (q_safe(p[k]))
					hw_buf_addc(b, (char)p[k]);
				else
					hw_buf_addf(b, "=%02X", p[k]);
			}
		} else {
			b64_add(b, p, take);
		}
		hw_buf_adds(b, "?=");
		p += take;
		n -= take;
	}
}

/* Latin text reads better as Q, other scripts as B (as mail clients choose) */
static bool prefers_q(const char *s)
{
	size_t hi = 0, len = strlen(s);

	for (const char *c = s; *c != '\0'; c++)
		hi += (unsigned char)*c >= 0x80;
	return hi * 4 < len;
}

static void person_add(struct rng *r, struct hw_buf *b, const struct person *pp)
{
	if (pp->name[0] == '\0') {
		hw_buf_addf(b, "%s", pp->addr);
	} else if (!is_ascii(pp->name)) {
		words_encode(b, pp->name, prefers_q(pp->name));
		hw_buf_addf(b, " <%s>", pp->addr);
	} else if (rng_chance(r, 0.6)) {
		hw_buf_addf(b, "\"%s\" <%s>", pp->name, pp->addr);
	} else {
		hw_buf_addf(b, "%s <%s>", pp->name, pp->addr);
	}
}

static void person_external(struct rng *r, struct person *pp, bool spam)
{
	if (spam) {
		static const char *const syll[] = { "ka", "zu", "mo", "ri", "te", "xa", "lo", "vi" };
		char local[32];
		snprintf(local, sizeof(local), "%s%s%s%u", PICK(r, syll), PICK(r, syll), PICK(r, syll),
			 (unsigned)rng_below(r, 1000));
		hw_strlcpy(pp->name, PICK(r, spam_names), sizeof(pp->name));
		snprintf(pp->addr, sizeof(pp->addr), "%s@%s", local, PICK(r, spam_domains));
	} else if (rng_chance(r, 0.15)) {
		size_t i = rng_below(r, NELEM(utf8_people));
		hw_strlcpy(pp->name, utf8_people[i][0], sizeof(pp->name));
		snprintf(pp->addr, sizeof(pp->addr), "%s@%s", utf8_people[i][1], PICK(r, ext_domains));
	} else {
		const char *fn = PICK(r, first_names), *ln = PICK(r, last_names);
		const char *dom = PICK(r, ext_domains);
		capitalize_into(pp->name, sizeof(pp->name), fn, ln);
		switch (rng_below(r, 5)) {
		case 0: snprintf(pp->addr, sizeof(pp->addr), "%c%s@%s", fn[0], ln, dom); break;
		case 1: snprintf(pp->addr, sizeof(pp->addr), "%s_%s@%s", fn, ln, dom); break;
		case 2: snprintf(pp->addr, sizeof(pp->addr), "%s%u@%s", fn,
				 (unsigned)rng_below(r, 100), dom); break;
		default: snprintf(pp->addr, sizeof(pp->addr), "%s.%s@%s", fn, ln, dom); break;
		}
		if (rng_chance(r, 0.1)) {   /* Outlook's "Last, First" */
			char tmp[96];
			snprintf(tmp, sizeof(tmp), "%c%s, %c%s", ln[0] - 'a' + 'A', ln + 1,
				 fn[0] - 'a' + 'A', fn + 1);
			hw_strlcpy(pp->name, tmp, sizeof(pp->name));
		}
	}
}

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
				      "Sep", "Oct", "Nov", "Dec" };

/* "Tue, 12 Mar 2024 09:13:02 +0100" */
static void date_rfc5322(char *buf, size_t size, int64_t t, int tz)
{
	time_t lt = (time_t)(t + (int64_t)tz * 60);
	int a = tz < 0 ? -tz : tz;
	struct tm tm;

	gmtime_r(&lt, &tm);
	snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d", wdays[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 tz < 0 ? '-' : '+', a / 60, a % 60);
}

/* "20240312T091305Z" */
static void date_ical(char *buf, size_t size, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	snprintf(buf, size, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* about nbytes of sentences, lines <= 76 characters, CRLF; each line starts
   with prefix; blank lines between paragraphs unless !paragraphs */
static void text_fill(struct rng *r, struct hw_buf *b, size_t nbytes, const char *prefix,
		      bool paragraphs)
{
	size_t end = b->len + nbytes, col = 0, plen = strlen(prefix);
	unsigned in_sentence = 0, sentence_len = 5 + (unsigned)rng_below(r, 14);
	unsigned in_para = 0, para_len = 2 + (unsigned)rng_below(r, 5);
	bool cap = true;

	while (b->len < end) {
		const char *w = words[rng_below(r, NELEM(words))];
		size_t wl = strlen(w);
		if (col > 0 && col + wl + 2 > 76) {
			hw_buf_add(b, "\r\n", 2);
			col = 0;
		}
		if (col == 0) {
			hw_buf_add(b, prefix, plen);
			col = plen;
		} else {
			hw_buf_addc(b, ' ');
			col++;
		}
		if (cap) {
			hw_buf_addc(b, (char)(w[0] - 'a' + 'A'));
			hw_buf_add(b, w + 1, wl - 1);
			cap = false;
		} else {
			hw_buf_add(b, w, wl);
		}
		col += wl;
		if (++in_sentence >= sentence_len) {
			hw_buf_addc(b, rng_chance(r, 0.1) ? '?' : '.');
			col++;
			cap = true;
			in_sentence = 0;
			sentence_len = 5 + (unsigned)rng_below(r, 14);
			if (paragraphs && ++in_para >= para_len) {
				hw_buf_adds(b, "\r\n");
				hw_buf_add(b, prefix, plen);
				hw_buf_adds(b, "\r\n");
				col = 0;
				in_para = 0;
				para_len = 2 + (unsigned)rng_below(r, 5);
			}
		} else if (rng_chance(r, 0.06)) {
			hw_buf_addc(b, ',');
			col++;
		}
	}
	if (col > 0)
		hw_buf_adds(b, "\r\n");
}

static void random_bytes(struct rng *r, unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rng_next(r);
		for (size_t k = 0; k < 8 && i + k < n; k++)
			p[i + k] = (unsigned char)(v >> (8 * k));
	}
}

struct attach_kind {
	const char *name, *type, *magic;
	size_t magic_len;
};
static const struct attach_kind attach_kinds[] = {
	{ "report.pdf", "application/pdf", "%PDF-1.5\n%", 10 },
	{ "invoice.pdf", "application/pdf", "%PDF-1.7\n%", 10 },
	{ "photo.jpg", "image/jpeg", "\xff\xd8\xff\xe0\x00\x10JFIF", 10 },
	{ "scan.png", "image/png", "\x89PNG\r\n\x1a\n", 8 },
	{ "figures.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	  "PK\x03\x04", 4 },
	{ "contract.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	  "PK\x03\x04", 4 },
	{ "archive.zip", "application/zip", "PK\x03\x04", 4 },
	/* RFC 2231 name: "Präsentation.pptx" */
	{ NULL, "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	  "PK\x03\x04", 4 },
};

/* raw bytes of an attachment as base64 lines of 76 characters */
static void attachment_add(struct rng *r, struct hw_buf *b, const struct attach_kind *k,
			   size_t raw)
{
	unsigned char line[57];
	bool first = true;

	while (raw > 0) {
		size_t n = raw < sizeof(line) ? raw : sizeof(line);
		random_bytes(r, line, n);
		if (first) {
			memcpy(line, k->magic, k->magic_len < n ? k->magic_len : n);
			first = false;
		}
		b64_add(b, line, n);
		hw_buf_add(b, "\r\n", 2);
		raw -= n;
	}
}

/* the same text as HTML, paragraphs from blank lines */
static void html_from_text(struct hw_buf *b, const char *text, size_t len)
{
	size_t i = 0;

	hw_buf_adds(b, "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
		    "charset=utf-8\"></head>\r\n<body>\r\n<p>");
	while (i < len) {
		if (i + 4 <= len && memcmp(text + i, "\r\n\r\n", 4) == 0) {
			hw_buf_adds(b, "</p>\r\n<p>");
			i += 4;
		} else {
			hw_buf_addc(b, text[i]);
			i++;
		}
	}
	hw_buf_adds(b, "</p>\r\n</body></html>\r\n");
}

struct msgctx {
	const struct plan *p;
	const struct folder *f;
	const struct mbox *m;
	size_t fi, i;
	int64_t arrival;
	const char *name;       /* the file name, used in Received */
};

static void ip_add(struct rng *r, struct hw_buf *b)
{
	static const char *const nets[] = { "203.0.113", "198.51.100", "192.0.2" };

	hw_buf_addf(b, "%s.%u", PICK(r, nets), 1 + (unsigned)rng_below(r, 254));
}

static void address_list_add(struct rng *r, struct hw_buf *b, const char *field,
			     const struct person *v, size_t n)
{
	hw_buf_addf(b, "%s: ", field);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			hw_buf_adds(b, ",\r\n\t");
		person_add(r, b, &v[i]);
	}
	hw_buf_adds(b, "\r\n");
}

static void groupware_body(struct rng *r, const struct msgctx *c, struct hw_buf *b,
			   const char *subject, const struct person *from)
{
	char stamp[24], start[24], end[24];
	int64_t when = c->arrival + (int64_t)rng_below(r, 30 * DAY);

	when -= when % 1800;
	date_ical(stamp, sizeof(stamp), c->arrival);
	date_ical(start, sizeof(start), when);
	date_ical(end, sizeof(end), when + 1800 * (1 + (int64_t)rng_below(r, 4)));
	switch (c->f->kind) {
	case FK_CALENDAR:
	case FK_TASKS: {
		bool ev = c->f->kind == FK_CALENDAR;
		hw_buf_addf(b, "BEGIN:VCALENDAR\r\nPRODID:-//Alt-N Technologies//MDaemon 23.5//EN\r\n"
			    "VERSION:2.0\r\nMETHOD:%s\r\nBEGIN:%s\r\n"
			    "UID:%016" PRIx64 "@%s\r\nDTSTAMP:%s\r\n",
			    ev ? "REQUEST" : "PUBLISH", ev ? "VEVENT" : "VTODO", rng_next(r),
			    c->m->domain, stamp);
		if (ev)
			hw_buf_addf(b, "DTSTART:%s\r\nDTEND:%s\r\nLOCATION:Room %u\r\n"
				    "ORGANIZER;CN=\"%s\":mailto:%s\r\n", start, end,
				    100 + (unsigned)rng_below(r, 400), from->name, from->addr);
		else
			hw_buf_addf(b, "DUE:%s\r\nSTATUS:%s\r\nPRIORITY:%u\r\n", end,
				    rng_chance(r, 0.5) ? "COMPLETED" : "NEEDS-ACTION",
				    1 + (unsigned)rng_below(r, 9));
		hw_buf_addf(b, "SUMMARY:%s\r\nDESCRIPTION:Details follow.\r\n", subject);
		text_fill(r, b, 400 + rng_below(r, 1200), " ", false);
		hw_buf_addf(b, "END:%s\r\nEND:VCALENDAR\r\n", ev ? "VEVENT" : "VTODO");
		break;
	}
	case FK_CONTACTS: {
		struct person pp;
		person_external(r, &pp, false);
		hw_buf_adds(b, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:");
		hw_buf_adds(b, pp.name);
		hw_buf_addf(b, "\r\nEMAIL;TYPE=INTERNET:%s\r\nTEL;TYPE=WORK:+1 555 %04u\r\n"
			    "ORG:%s\r\nNOTE:Met at the conference.\r\n", pp.addr,
			    (unsigned)rng_below(r, 10000), strchr(pp.addr, '@') + 1);
		text_fill(r, b, 300 + rng_below(r, 800), " ", false);
		hw_buf_adds(b, "END:VCARD\r\n");
		break;
	}
	default:
		text_fill(r, b, 800 + rng_below(r, 2000), "", true);
		break;
	}
}

/* someone else with a mailbox in this store; an outsider when there is none */
static void person_colleague(struct rng *r, const struct msgctx *c, struct person *pp)
{
	size_t self = (size_t)(c->m - c->p->mb), j;

	if (c->p->nmb < 2) {
		person_external(r, pp, false);
		return;
	}
	j = rng_below(r, c->p->nmb - 1);
	*pp = c->p->mb[j >= self ? j + 1 : j].owner;
}

/* one generated message into b */
static void message_generate(struct rng *r, const struct msgctx *c, struct hw_buf *b)
{
	static const int tzs[] = { 0, 60, 60, 120, -300, -480, 540, 330, -180, 600 };
	enum fkind k = c->f->kind;
	bool outbound = k == FK_SENT || k == FK_DRAFTS;
	bool junk = k == FK_JUNK;
	bool groupware = k == FK_CALENDAR || k == FK_CONTACTS || k == FK_TASKS || k == FK_NOTES;
	bool internal = false, reply = false, attach = false, alt = false;
	struct person from, to[4], cc[4];
	size_t nto = 1, ncc = 0, start = b->len, target;
	const char *subj;
	char subject[256], sent[48], arrived[48], boundary[64];
	int tz;
	int64_t sent_t;

	/* who */
	if (outbound || groupware) {
		from = c->m->owner;
		tz = c->m->tz;
		nto = 1 + rng_below(r, 3);
		for (size_t i = 0; i < nto; i++) {
			if (rng_chance(r, 0.3))
				person_colleague(r, c, &to[i]);
			else
				person_external(r, &to[i], false);
		}
	} else {
		internal = !junk && rng_chance(r, 0.3);
		if (internal) {
			person_colleague(r, c, &from);
			tz = c->m->tz;
		} else {
			person_external(r, &from, junk);
			tz = PICK(r, tzs);
		}
		to[0] = c->m->owner;
		nto = 1 + (junk ? 0 : rng_below(r, 3));
		for (size_t i = 1; i < nto; i++)
			person_colleague(r, c, &to[i]);
	}
	if (!junk && !groupware && rng_chance(r, 0.25)) {
		ncc = 1 + rng_below(r, 3);
		for (size_t i = 0; i < ncc; i++)
			person_external(r, &cc[i], false);
	}

	/* what */
	if (junk) {
		subj = PICK(r, spam_subjects);
	} else if (rng_chance(r, 0.15)) {
		subj = PICK(r, utf8_subjects);
	} else {
		subj = PICK(r, subjects);
	}
	if (!groupware && !junk && rng_chance(r, 0.3)) {
		static const char *const pre[] = { "Re: ", "RE: ", "Re: ", "Fwd: ", "FW: ", "AW: " };
		const char *pf = PICK(r, pre);
		reply = pf[0] != 'F';
		snprintf(subject, sizeof(subject), "%s%s", pf, subj);
	} else if (junk) {
		snprintf(subject, sizeof(subject), "***SPAM*** %s", subj);
	} else {
		hw_strlcpy(subject, subj, sizeof(subject));
	}
	if (groupware) {
		target = 0;
	} else if (k != FK_DRAFTS && rng_chance(r, 0.10)) {
		attach = true;
		target = (size_t)rng_lognormal(r, 60 * 1024, 1.3);
		if (target < 8192)
			target = 8192;
	} else {
		alt = rng_chance(r, 0.2);
		target = (size_t)rng_lognormal(r, 7.5 * 1024, 0.9);
	}
	if (target > MSG_MAX)
		target = MSG_MAX;
	if (target < 1024)
		target = 1024;

	/* when */
	sent_t = c->arrival - (outbound ? 0 : 2 + (int64_t)rng_below(r, internal ? 5 : 600));
	date_rfc5322(sent, sizeof(sent), sent_t, tz);
	date_rfc5322(arrived, sizeof(arrived), c->arrival, c->m->tz);

	/* trace headers, as MDaemon adds them at delivery */
	if (!outbound && !groupware) {
		hw_buf_addf(b, "Return-Path: <%s>\r\n", from.addr);
		if (internal) {
			hw_buf_addf(b, "Received: from [192.168.%u.%u] by mail.%s (MDaemon PRO v23.5.2)\r\n"
				    "\twith ESMTPA id %s for <%s>; %s\r\n", (unsigned)rng_below(r, 8),
				    2 + (unsigned)rng_below(r, 250), c->m->domain, c->name,
				    c->m->owner.addr, arrived);
		} else {
			const char *fdom = strchr(from.addr, '@') + 1;
			unsigned mx = 1 + (unsigned)rng_below(r, 3);
			char relay[48];
			hw_buf_addf(b, "Received: from mx%u.%s (mx%u.%s [", mx, fdom, mx, fdom);
			ip_add(r, b);
			hw_buf_addf(b, "]) by mail.%s (MDaemon PRO v23.5.2)\r\n\twith ESMTPS id %s "
				    "for <%s>; %s\r\n", c->m->domain, c->name, c->m->owner.addr, arrived);
			date_rfc5322(relay, sizeof(relay), sent_t + 1, tz);
			hw_buf_addf(b, "Received: from [10.%u.%u.%u] by mx%u.%s with ESMTPSA id "
				    "%012" PRIX64 ";\r\n\t%s\r\n", (unsigned)rng_below(r, 256),
				    (unsigned)rng_below(r, 256), 1 + (unsigned)rng_below(r, 254), mx, fdom,
				    (uint64_t)(rng_next(r) & 0xffffffffffffULL), relay);
		}
	}
	hw_buf_adds(b, "From: ");
	person_add(r, b, &from);
	hw_buf_adds(b, "\r\n");
	address_list_add(r, b, "To", to, nto);
	if (ncc > 0)
		address_list_add(r, b, "Cc", cc, ncc);
	hw_buf_adds(b, "Subject: ");
	if (is_ascii(subject) || rng_chance(r, 0.05))
		hw_buf_adds(b, subject);   /* a few clients send raw 8-bit headers */
	else
		words_encode(b, subject, prefers_q(subject));
	hw_buf_adds(b, "\r\n");
	hw_buf_addf(b, "Date: %s\r\n", sent);
	if (!(k == FK_DRAFTS && rng_chance(r, 0.3)))
		hw_buf_addf(b, "Message-ID: <%016" PRIx64 ".%zu.%zu@%s>\r\n", rng_next(r), c->fi, c->i,
			    strchr(from.addr, '@') + 1);
	if (reply) {
		char ref[80];
		snprintf(ref, sizeof(ref), "<%016" PRIx64 "@%s>", rng_next(r),
			 strchr(to[0].addr, '@') + 1);
		hw_buf_addf(b, "In-Reply-To: %s\r\nReferences: %s\r\n", ref, ref);
	}
	hw_buf_addf(b, "MIME-Version: 1.0\r\n%s\r\n", PICK(r, mailers));
	snprintf(boundary, sizeof(boundary), "----=_NextPart_000_%04X_%08X.%08X",
		 (unsigned)rng_below(r, 0x10000), (unsigned)rng_next(r), (unsigned)rng_next(r));
	switch (k) {
	case FK_CALENDAR:
		hw_buf_adds(b, "Content-Type: text/calendar; method=REQUEST; charset=\"utf-8\"\r\n");
		break;
	case FK_TASKS:
		hw_buf_adds(b, "Content-Type: text/calendar; method=PUBLISH; charset=\"utf-8\"\r\n");
		break;
	case FK_CONTACTS:
		hw_buf_adds(b, "Content-Type: text/vcard; charset=\"utf-8\"\r\n");
		break;
	default:
		if (attach)
			hw_buf_addf(b, "Content-Type: multipart/mixed;\r\n\tboundary=\"%s\"\r\n", boundary);
		else if (alt)
			hw_buf_addf(b, "Content-Type: multipart/alternative;\r\n\tboundary=\"%s\"\r\n",
				    boundary);
		else
			hw_buf_adds(b, "Content-Type: text/plain; charset=\"utf-8\"\r\n");
		break;
	}
	if (!attach && !alt)
		hw_buf_adds(b, "Content-Transfer-Encoding: 7bit\r\n");
	if (!outbound && !groupware) {
		if (junk)
			hw_buf_addf(b, "X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=%u.%u required=5.0\r\n",
				    5 + (unsigned)rng_below(r, 20), (unsigned)rng_below(r, 10));
		hw_buf_addf(b, "X-Spam-Processed: mail.%s, %s\r\n\t(%s)\r\n", c->m->domain, arrived,
			    internal ? "not processed: message from trusted or authenticated source"
				     : "processed by the spam filter");
		hw_buf_addf(b, "X-MDArrival-Date: %s\r\nX-Return-Path: %s\r\nX-Envelope-From: %s\r\n"
			    "X-MDaemon-Deliver-To: %s\r\n", arrived, from.addr, from.addr,
			    c->m->owner.addr);
	}
	hw_buf_adds(b, "\r\n");

	/* body, to about the target size */
	{
		size_t hdr = b->len - start;
		size_t body = target > hdr + 256 ? target - hdr : 256;
		if (groupware) {
			groupware_body(r, c, b, subj, &from);
		} else if (attach) {
			const struct attach_kind *ak = &PICK(r, attach_kinds);
			size_t text = (size_t)rng_lognormal(r, 1500, 0.8);
			size_t raw;
			if (text > body / 4)
				text = body / 4;
			raw = body > text + 700 ? (body - text - 700) / 4 * 3 : 512;
			hw_buf_addf(b, "This is a multi-part message in MIME format.\r\n\r\n--%s\r\n"
				    "Content-Type: text/plain; charset=\"utf-8\"\r\n"
				    "Content-Transfer-Encoding: 7bit\r\n\r\n", boundary);
			text_fill(r, b, text, "", true);
			hw_buf_addf(b, "\r\n--%s\r\nContent-Type: %s;\r\n", boundary, ak->type);
			if (ak->name != NULL)
				hw_buf_addf(b, "\tname=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n"
					    "Content-Disposition: attachment;\r\n\tfilename=\"%s\"\r\n\r\n",
					    ak->name, ak->name);
			else
				hw_buf_adds(b, "\tname=\"=?UTF-8?Q?Pr=C3=A4sentation.pptx?=\"\r\n"
					    "Content-Transfer-Encoding: base64\r\n"
					    "Content-Disposition: attachment;\r\n"
					    "\tfilename*=UTF-8''Pr%C3%A4sentation.pptx\r\n\r\n");
			attachment_add(r, b, ak, raw);
			hw_buf_addf(b, "\r\n--%s--\r\n", boundary);
		} else if (alt) {
			struct hw_buf t;
			hw_buf_init(&t);
			text_fill(r, &t, body * 2 / 5, "", true);
			hw_buf_addf(b, "This is a multi-part message in MIME format.\r\n\r\n--%s\r\n"
				    "Content-Type: text/plain; charset=\"utf-8\"\r\n"
				    "Content-Transfer-Encoding: 7bit\r\n\r\n", boundary);
			hw_buf_add(b, t.data, t.len);
			hw_buf_addf(b, "\r\n--%s\r\nContent-Type: text/html; charset=\"utf-8\"\r\n"
				    "Content-Transfer-Encoding: 7bit\r\n\r\n", boundary);
			html_from_text(b, t.data, t.len);
			hw_buf_addf(b, "\r\n--%s--\r\n", boundary);
			hw_buf_release(&t);
		} else if (reply && rng_chance(r, 0.6)) {
			char when[48];
			date_rfc5322(when, sizeof(when), sent_t - 3600 - (int64_t)rng_below(r, 7 * DAY), tz);
			text_fill(r, b, body * 3 / 5, "", true);
			hw_buf_addf(b, "\r\nOn %s, %s wrote:\r\n", when, to[0].addr);
			text_fill(r, b, body * 2 / 5, "> ", true);
		} else {
			text_fill(r, b, body, "", true);
		}
	}
}

/* ---- writing folders ---- */

struct pending {
	char name[HW_MSGNAME_LEN + 1];
	struct hw_buf data;
	int64_t mtime;      /* arrival; -1 keeps the time of writing (--from-corpus) */
	uint8_t flags;      /* IMAP.MRK flags */
};

struct msgrec {
	char name[HW_MSGNAME_LEN + 1];
	uint32_t size;
	int64_t date;
	uint8_t flags;
};

struct writer {
	const struct opts *o;
	const struct plan *p;
	int outfd;
	int dirfd;               /* the folder being written */
	char *dirpath;           /* its path, for messages */
	struct pending group[GROUP_MAX];
	size_t ngroup;
	struct msgrec *recs;     /* what the folder got, for IMAP.MRK */
	size_t nrecs, reccap;
	uint64_t folders, messages, bytes, others;
};

static int set_mtime(int fd, int64_t t, const char *path, struct hw_error *err)
{
	struct timespec ts[2] = { { .tv_sec = (time_t)t }, { .tv_sec = (time_t)t } };

	if (futimens(fd, ts) < 0)
		return hw_error_sys(err, "futimens", path);
	return 0;
}

static int file_create(struct writer *w, const char *name, struct hw_error *err)
{
	int fd = hw_io_openat(w->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			      0644);

	if (fd < 0) {
		char *pp = hw_path_join(w->dirpath, name);
		hw_error_sys(err, "open", pp);
		free(pp);
	}
	return fd;
}

static int file_fail(struct writer *w, const char *call, const char *name, struct hw_error *err)
{
	char *pp = hw_path_join(w->dirpath, name);

	hw_error_sys(err, call, pp);
	free(pp);
	return -1;
}

/* chunk for --fragment: 4 KiB, bigger for big files so that no file takes
   more than FRAG_MAX_ROUNDS fsyncs (big files fragment less anyway: ext4
   preallocates for them) */
static size_t frag_chunk(size_t len)
{
	size_t c = (len + FRAG_MAX_ROUNDS - 1) / FRAG_MAX_ROUNDS;

	c = (c + FRAG_CHUNK - 1) / FRAG_CHUNK * FRAG_CHUNK;
	return c < FRAG_CHUNK ? FRAG_CHUNK : c;
}

/* write the group's files: one after the other, or with --fragment
   interleaved, an fsync after every append so that each chunk is allocated
   where the previous file's chunk ended */
static int group_flush(struct writer *w, struct hw_error *err)
{
	int fds[GROUP_MAX];
	size_t off[GROUP_MAX] = { 0 }, n = w->ngroup;
	int ret = -1;

	for (size_t k = 0; k < n; k++)
		fds[k] = -1;
	for (size_t k = 0; k < n; k++) {
		struct pending *pg = &w->group[k];
		if ((fds[k] = file_create(w, pg->name, err)) < 0)
			goto out;
		if (!w->o->fragment) {
			if (hw_io_write_all(fds[k], pg->data.data, pg->data.len) < 0) {
				file_fail(w, "write", pg->name, err);
				goto out;
			}
			off[k] = pg->data.len;
		}
	}
	for (bool more = w->o->fragment; more;) {
		more = false;
		for (size_t k = 0; k < n; k++) {
			struct pending *pg = &w->group[k];
			size_t c = frag_chunk(pg->data.len);
			if (off[k] >= pg->data.len)
				continue;
			if (c > pg->data.len - off[k])
				c = pg->data.len - off[k];
			if (hw_io_write_all(fds[k], pg->data.data + off[k], c) < 0) {
				file_fail(w, "write", pg->name, err);
				goto out;
			}
			if (hw_io_fsync(fds[k]) < 0) {
				file_fail(w, "fsync", pg->name, err);
				goto out;
			}
			off[k] += c;
			more |= off[k] < pg->data.len;
		}
	}
	for (size_t k = 0; k < n; k++) {
		struct pending *pg = &w->group[k];
		struct msgrec *mr;
		int64_t date = pg->mtime;
		if (pg->mtime >= 0) {
			char *pp = hw_path_join(w->dirpath, pg->name);
			int r = set_mtime(fds[k], pg->mtime, pp, err);
			free(pp);
			if (r < 0)
				goto out;
		} else {
			struct stat sb;
			if (fstat(fds[k], &sb) < 0) {
				file_fail(w, "fstat", pg->name, err);
				goto out;
			}
			date = sb.st_mtime;
		}
		if (close(fds[k]) < 0) {
			fds[k] = -1;
			file_fail(w, "close", pg->name, err);
			goto out;
		}
		fds[k] = -1;
		HW_GROW(w->recs, w->reccap, w->nrecs + 1);
		mr = &w->recs[w->nrecs++];
		memcpy(mr->name, pg->name, sizeof(mr->name));
		mr->size = pg->data.len > UINT32_MAX ? UINT32_MAX : (uint32_t)pg->data.len;
		mr->date = date;
		mr->flags = pg->flags;
		w->messages++;
		w->bytes += pg->data.len;
	}
	ret = 0;
out:
	for (size_t k = 0; k < n; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	w->ngroup = 0;
	return ret;
}

static struct pending *group_slot(struct writer *w)
{
	struct pending *pg = &w->group[w->ngroup++];

	hw_buf_reset(&pg->data);
	return pg;
}

/* MD/PD, precedence and the 9-digit number */
static void msgname_draw(struct rng *r, uint32_t number, char *buf, size_t size)
{
	struct hw_msgname mn = { .number = number, .precedence = 50 };
	double u = rng_unit(r);

	if (u < 0.05)
		mn.precedence = 10;
	else if (u < 0.15)
		mn.precedence = 80;
	mn.pd = rng_chance(r, 0.15);
	hw_msgname_format(buf, size, &mn);
}

/* message numbers: a random start, increasing, with gaps where mail was
   moved or deleted */
static uint32_t msgnum_next(struct rng *r, uint32_t n)
{
	return n + (rng_chance(r, 0.8) ? 1 : 2 + (uint32_t)rng_below(r, 50));
}

static uint8_t flags_draw(struct rng *r, enum fkind k, int64_t age)
{
	uint8_t f = 0;

	switch (k) {
	case FK_SENT:
	case FK_CALENDAR:
	case FK_CONTACTS:
	case FK_TASKS:
	case FK_NOTES:
		return IMAPMRK_FLAG_SEEN;
	case FK_DRAFTS:
		return IMAPMRK_FLAG_SEEN | IMAPMRK_FLAG_DRAFT;
	case FK_DELETED:
		return rng_chance(r, 0.9) ? IMAPMRK_FLAG_SEEN : 0;
	case FK_JUNK:
		return rng_chance(r, 0.15) ? IMAPMRK_FLAG_SEEN : 0;
	default: {
		double p = age > 14 * DAY ? 0.97 : age > 2 * DAY ? 0.8 : 0.35;
		if (rng_chance(r, p)) {
			f |= IMAPMRK_FLAG_SEEN;
			if (rng_chance(r, 0.12))
				f |= IMAPMRK_FLAG_ANSWERED;
		}
		if (rng_chance(r, 0.03))
			f |= IMAPMRK_FLAG_FLAGGED;
		if (rng_chance(r, 0.003))
			f |= IMAPMRK_FLAG_DELETED;
		return f;
	}
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int folder_fill_generated(struct writer *w, size_t fi, struct hw_error *err)
{
	const struct folder *f = &w->p->f[fi];
	int64_t *t = hw_calloc(f->count ? f->count : 1, sizeof(*t));
	struct rng r, fr;
	uint32_t num;
	int ret = 0;

	rng_init(&r, w->o->seed, S_FOLDER, fi, 0);
	rng_init(&fr, w->o->seed, S_FLAGS, fi, 0);
	for (uint64_t i = 0; i < f->count; i++) {
		double span = (double)(f->t1 - f->t0);
		int64_t x = f->t1 - 1 - (int64_t)(span * pow(rng_unit(&r), f->skew));
		/* mostly office hours */
		int64_t day = x - x % DAY;
		x = day + (rng_chance(&r, 0.85) ? 7 * 3600 + (int64_t)rng_below(&r, 12 * 3600)
						: (int64_t)rng_below(&r, DAY));
		if (x >= f->t1)
			x = f->t1 - 1 - (int64_t)rng_below(&r, 3600);
		if (x < f->t0)
			x = f->t0;
		t[i] = x;
	}
	qsort(t, f->count, sizeof(*t), cmp_i64);
	num = 1 + (uint32_t)rng_below(&r, 5000);
	for (uint64_t i = 0; i < f->count; i++) {
		struct pending *pg = group_slot(w);
		struct msgctx c = { .p = w->p, .f = f, .m = &w->p->mb[f->mbox], .fi = fi,
				    .i = (size_t)i, .arrival = t[i], .name = pg->name };
		struct rng mr;
		rng_init(&mr, w->o->seed, S_MSG, fi, i);
		msgname_draw(&mr, num, pg->name, sizeof(pg->name));
		message_generate(&mr, &c, &pg->data);
		pg->mtime = t[i];
		pg->flags = flags_draw(&fr, f->kind, w->p->t_end - t[i]);
		num = msgnum_next(&r, num);
		if (w->ngroup == GROUP_MAX && (ret = group_flush(w, err)) < 0)
			break;
	}
	free(t);
	return ret;
}

static int read_all(const char *path, struct hw_buf *b, struct hw_error *err)
{
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return hw_error_sys(err, "open", path);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			hw_error_sys(err, "read", path);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		hw_buf_add(b, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

static int folder_fill_corpus(struct writer *w, size_t fi, struct hw_error *err)
{
	const struct folder *f = &w->p->f[fi];
	struct rng r;
	uint32_t num;

	rng_init(&r, w->o->seed, S_FOLDER, fi, 0);
	num = 1 + (uint32_t)rng_below(&r, 5000);
	for (size_t i = 0; i < f->nsrc; i++) {
		struct pending *pg = group_slot(w);
		struct rng mr;
		rng_init(&mr, w->o->seed, S_MSG, fi, i);
		msgname_draw(&mr, num, pg->name, sizeof(pg->name));
		if (read_all(f->src[i], &pg->data, err) < 0)
			return -1;
		pg->mtime = -1;
		pg->flags = 0;   /* a migration brings no flags */
		num = msgnum_next(&r, num);
		if (w->ngroup == GROUP_MAX && group_flush(w, err) < 0)
			return -1;
	}
	return 0;
}

static int index_write(struct writer *w, size_t fi, struct hw_error *err);

/* create every directory of rel below dirfd (parents are usually there) */
static int mkdir_rel(int dirfd, const char *base, const char *rel, struct hw_error *err)
{
	char *copy = hw_strdup(rel);
	int ret = 0;

	for (char *s = copy;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		{
			char c = *s;
			*s = '\0';
			if (hw_io_mkdirat(dirfd, copy, 0755) < 0 && errno != EEXIST) {
				char *pp = hw_path_join(base, copy);
				hw_error_sys(err, "mkdir", pp);
				free(pp);
				ret = -1;
				break;
			}
			*s = c;
			if (c == '\0')
				break;
		}
	}
	free(copy);
	return ret;
}

static int folder_write(struct writer *w, size_t fi, struct hw_error *err)
{
	const struct folder *f = &w->p->f[fi];
	const struct mbox *m = &w->p->mb[f->mbox];
	char *rel = hw_asprintf("%s/%s%s%s", m->domain, m->name, *f->rel ? "/" : "", f->rel);
	int ret = -1;

	w->dirpath = hw_path_join(w->o->out, rel);
	w->nrecs = 0;
	w->ngroup = 0;
	if (mkdir_rel(w->outfd, w->o->out, rel, err) < 0)
		goto out;
	w->dirfd = openat(w->outfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (w->dirfd < 0) {
		hw_error_sys(err, "open", w->dirpath);
		goto out;
	}
	if ((w->p->corpus ? folder_fill_corpus(w, fi, err) : folder_fill_generated(w, fi, err)) < 0)
		goto out;
	if (w->ngroup > 0 && group_flush(w, err) < 0)
		goto out;
	if (w->o->with_index && index_write(w, fi, err) < 0)
		goto out;
	w->folders++;
	ret = 0;
out:
	if (w->dirfd >= 0)
		close(w->dirfd);
	w->dirfd = -1;
	free(w->dirpath);
	w->dirpath = NULL;
	free(rel);
	return ret;
}

/* groupware files MDaemon keeps at the mailbox root: left alone by hiwater */
static int other_files_write(struct writer *w, size_t mi, struct hw_error *err)
{
	const struct mbox *m = &w->p->mb[mi];
	char *rel = hw_asprintf("%s/%s", m->domain, m->name);
	struct hw_buf b;
	struct rng r;
	int ret = 0;

	hw_buf_init(&b);
	rng_init(&r, w->o->seed, S_OTHER, mi, 0);
	w->dirpath = hw_path_join(w->o->out, rel);
	w->dirfd = openat(w->outfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (w->dirfd < 0) {
		ret = hw_error_sys(err, "open", w->dirpath);
		goto out;
	}
	for (int which = 0; which < 2 && ret == 0; which++) {
		const char *name = which == 0 ? "AddrBook.mrk" : "Calendar.mrk";
		unsigned n = 2 + (unsigned)rng_below(&r, 8);
		int fd;
		if (!(which == 0 ? m->addrbook : m->calendar))
			continue;
		hw_buf_reset(&b);
		hw_buf_addf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<%s owner=\"%s\">\r\n",
			    which == 0 ? "addressbook" : "calendar", m->owner.addr);
		for (unsigned i = 0; i < n; i++) {
			struct person pp;
			char when[24];
			person_external(&r, &pp, false);
			date_ical(when, sizeof(when), w->p->t_start + (int64_t)rng_below(&r,
				  (uint64_t)(w->p->t_end - w->p->t_start)));
			if (which == 0)
				hw_buf_addf(&b, " <contact id=\"%u\"><name>%s</name><email>%s</email>"
					    "</contact>\r\n", i + 1, pp.name, pp.addr);
			else
				hw_buf_addf(&b, " <event id=\"%u\" start=\"%s\"><subject>%s</subject>"
					    "<attendee>%s</attendee></event>\r\n", i + 1, when,
					    PICK(&r, subjects), pp.addr);
		}
		hw_buf_addf(&b, "</%s>\r\n", which == 0 ? "addressbook" : "calendar");
		if ((fd = file_create(w, name, err)) < 0) {
			ret = -1;
			break;
		}
		if (hw_io_write_all(fd, b.data, b.len) < 0)
			ret = file_fail(w, "write", name, err);
		else if (!w->p->corpus)
			ret = set_mtime(fd, w->p->t_end - (int64_t)rng_below(&r, 90 * DAY), name, err);
		close(fd);
		w->others++;
	}
out:
	if (w->dirfd >= 0)
		close(w->dirfd);
	w->dirfd = -1;
	free(w->dirpath);
	w->dirpath = NULL;
	hw_buf_release(&b);
	free(rel);
	return ret;
}

/* ---- IMAP.MRK and HIWATER.MRK (--with-index) ---- */

static const char *folder_class(enum fkind k)
{
	switch (k) {
	case FK_CALENDAR: return "IPF.Appointment";
	case FK_CONTACTS: return "IPF.Contact";
	case FK_TASKS: return "IPF.Task";
	case FK_NOTES: return "IPF.StickyNote";
	default: return "IPF.Note";
	}
}

/* "Sent Items", "Archive/2024": the folder's IMAP name (rel without .IMAP) */
static char *imap_name(const char *rel)
{
	struct hw_buf b;

	hw_buf_init(&b);
	for (const char *p = rel; *p != '\0';) {
		const char *e = strchr(p, '/');
		size_t full = e != NULL ? (size_t)(e - p) : strlen(p), len = full;
		if (len > 5 && strncasecmp(p + len - 5, ".IMAP", 5) == 0)
			len -= 5;
		if (b.len > 0)
			hw_buf_addc(&b, '/');
		hw_buf_add(&b, p, len);
		p += e != NULL ? full + 1 : full;
	}
	return hw_buf_detach(&b, NULL);
}

/* IMAP.MRK: UIDs 1..n in arrival (= file) order, flags as a client left
   them, a fixed seed-derived UIDVALIDITY. HIWATER.MRK: [Groupware]
   FolderClass in every folder, and at the mailbox root [IMAPSubscribed]
   with a key per folder, so that a store made --with-index is up to date
   (an indexer run on it has nothing to do). The [IMAPSubscribed] form is a
   guess: Aldaviva/ImapFolderSubscriptionGuard only
   shows that keys are IMAP folder names ("Sent Items", written "key=value"
   without spaces) and removes them to unsubscribe; the value "1" and the
   "/" separator of nested names are not documented anywhere we know. */
static int index_write(struct writer *w, size_t fi, struct hw_error *err)
{
	const struct folder *f = &w->p->f[fi];
	const struct mbox *m = &w->p->mb[f->mbox];
	struct imapmrk idx;
	struct hwmrk *h = NULL;
	struct rng r;
	uint32_t uidvalidity;
	int ret = -1;

	rng_init(&r, w->o->seed, S_INDEX, fi, 0);
	uidvalidity = 1500000000u + (uint32_t)rng_below(&r, 100000000);
	imapmrk_init(&idx);
	imapmrk_header_new(&idx.hdr, uidvalidity);
	for (size_t i = 0; i < w->nrecs; i++) {
		struct imapmrk_record *rec = imapmrk_append(&idx);
		if (!imapmrk_record_set_name(rec, w->recs[i].name)) {
			hw_error_set(err, EINVAL, "%s/%s: name too long for IMAP.MRK", w->dirpath,
				     w->recs[i].name);
			goto out;
		}
		rec->flags = w->recs[i].flags;
		rec->uid = (uint32_t)i + 1;
		rec->size = w->recs[i].size;
		rec->date = imapmrk_clamp_date(w->recs[i].date);
	}
	idx.hdr.uidnext = (uint32_t)w->nrecs + 1;
	idx.hdr.write_counter = (uint32_t)w->nrecs;
	if (imapmrk_write(w->dirfd, w->dirpath, &idx, err) < 0)
		goto out;

	if (*f->rel == '\0') {
		h = hwmrk_new();
		for (size_t k = m->folder0 + 1; k < m->folder0 + m->nfolders; k++) {
			char *name = imap_name(w->p->f[k].rel);
			hwmrk_set(h, "IMAPSubscribed", name, "1");
			free(name);
		}
	} else {
		h = hwmrk_new();
	}
	hwmrk_set(h, "Groupware", "FolderClass", folder_class(f->kind));
	if (hwmrk_write(w->dirfd, w->dirpath, h, err) < 0)
		goto out;
	ret = 0;
out:
	hwmrk_free(&h);
	imapmrk_release(&idx);
	return ret;
}

/* ---- the store ---- */

/* DIR must be new or an empty directory: mkstore never writes into a store */
static int dir_prepare(const char *path, bool must_be_empty, struct hw_error *err)
{
	DIR *d;
	struct dirent *de;
	bool empty = true;

	if (hw_io_mkdirat(AT_FDCWD, path, 0755) == 0)
		return 0;
	if (errno != EEXIST)
		return hw_error_sys(err, "mkdir", path);
	if (!must_be_empty)
		return is_dir(path) ? 0 : hw_error_set(err, ENOTDIR, "%s is not a directory", path);
	d = opendir(path);
	if (d == NULL)
		return hw_error_sys(err, "opendir", path);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = false;
	closedir(d);
	if (!empty)
		return hw_error_set(err, EEXIST, "%s is not empty: mkstore writes only into a new "
				    "or empty directory", path);
	return 0;
}

static int store_write(struct writer *w, struct hw_error *err)
{
	const struct plan *p = w->p;
	int ret = 0;

	if (dir_prepare(w->o->out, true, err) < 0)
		return -1;
	w->outfd = open(w->o->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->outfd < 0)
		return hw_error_sys(err, "open", w->o->out);
	for (size_t mi = 0; mi < p->nmb && ret == 0; mi++) {
		const struct mbox *m = &p->mb[mi];
		uint64_t before = w->messages;
		for (size_t fi = m->folder0; fi < m->folder0 + m->nfolders && ret == 0; fi++)
			ret = folder_write(w, fi, err);
		if (ret == 0)
			ret = other_files_write(w, mi, err);
		if (ret == 0 && w->o->verbose)
			fprintf(stderr, "mkstore: %s/%s: %zu folders, %" PRIu64 " messages\n",
				m->domain, m->name, m->nfolders, w->messages - before);
	}
	close(w->outfd);
	return ret;
}

/* ---- logs ---- */

enum { LOG_SMTP_IN, LOG_SMTP_OUT, LOG_IMAP, LOG_POP, LOG_ROUTING, LOG_SPAM, LOG_SYSTEM, LOG_N };
static const struct {
	const char *name;
	double share;
} log_services[LOG_N] = {
	{ "SMTP (in)", 0.34 }, { "SMTP (out)", 0.16 }, { "IMAP", 0.24 }, { "POP", 0.05 },
	{ "Routing", 0.10 }, { "Spam Filter", 0.08 }, { "System", 0.03 },
};

struct logday {
	int64_t day_start;        /* local midnight */
	int64_t day_end;          /* next midnight, or now for today */
	int64_t mtime;            /* end of the day (now for today) */
	char prefix[20];          /* "Mon 2026-11-28" */
	char ymd[16];             /* "2026-11-28" */
	uint32_t session;         /* next session number */
	double weight;
};

static void log_line(struct hw_buf *b, const struct logday *ld, int64_t t_ms, unsigned thr,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void log_line(struct hw_buf *b, const struct logday *ld, int64_t t_ms, unsigned thr,
		     const char *fmt, ...)
{
	int64_t s = t_ms / 1000 - ld->day_start;
	va_list ap;

	if (s < 0)
		s = 0;
	if (s >= DAY)
		s = DAY - 1;
	hw_buf_addf(b, "%s %02d:%02d:%02d.%03d: %02u: ", ld->prefix, (int)(s / 3600),
		    (int)(s / 60 % 60), (int)(s % 60), (int)(t_ms % 1000), thr);
	va_start(ap, fmt);
	hw_buf_vaddf(b, fmt, ap);
	va_end(ap);
	hw_buf_add(b, "\r\n", 2);
}

static void log_person(struct rng *r, char *buf, size_t size, bool local)
{
	snprintf(buf, size, "%s.%s@%s", PICK(r, first_names), PICK(r, last_names),
		 local ? "example.com" : PICK(r, ext_domains));
}

/* one session of service svc starting at *t (ms), which it advances */
static void log_session(struct rng *r, struct logday *ld, int svc, struct hw_buf *b, int64_t *t)
{
	unsigned thr = 1 + (unsigned)rng_below(r, 24);
	uint32_t sid = ld->session++;
	char who[96], to[96], ip[32], msg[20];
	unsigned size = 1000 + (unsigned)rng_lognormal(r, 8000, 1.0);
#define L(...) (log_line(b, ld, *t, thr, __VA_ARGS__), *t += 1 + (int64_t)rng_below(r, 40))

	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", 1 + (unsigned)rng_below(r, 223),
		 (unsigned)rng_below(r, 256), (unsigned)rng_below(r, 256),
		 1 + (unsigned)rng_below(r, 254));
	snprintf(msg, sizeof(msg), "md5000%07u.msg", (unsigned)(sid % 10000000));
	log_person(r, who, sizeof(who), svc != LOG_SMTP_IN);
	log_person(r, to, sizeof(to), svc == LOG_SMTP_IN);
	switch (svc) {
	case LOG_SMTP_IN: {
		bool spam = rng_chance(r, 0.15);
		L("Session %08u; child %04u", sid, thr);
		L("Accepting SMTP connection from [%s:%u] to [192.0.2.10:25]", ip,
		  1024 + (unsigned)rng_below(r, 60000));
		L("Performing PTR lookup (%s.in-addr.arpa)", ip);
		L("* P=000 S=000 D=%s T=PTR mail.%s", ld->ymd, strchr(who, '@') + 1);
		L("--> 220 mail.example.com ESMTP MDaemon 23.5.2; %s", ld->prefix);
		L("<-- EHLO mail.%s", strchr(who, '@') + 1);
		L("--> 250-mail.example.com Hello mail.%s, pleased to meet you", strchr(who, '@') + 1);
		L("--> 250-ETRN");
		L("--> 250-AUTH=LOGIN");
		L("--> 250-8BITMIME");
		L("--> 250-STARTTLS");
		L("--> 250 SIZE 52428800");
		L("<-- MAIL FROM:<%s> SIZE=%u", who, size);
		L("Performing SPF lookup (%s / %s)", strchr(who, '@') + 1, ip);
		L("* Result: %s", rng_chance(r, 0.8) ? "pass" : "none");
		L("--> 250 <%s>, Sender ok", who);
		L("<-- RCPT TO:<%s>", to);
		if (spam) {
			L("Spam Filter score/req: %u.%02u/5.0", 5 + (unsigned)rng_below(r, 30),
			  (unsigned)rng_below(r, 100));
			L("--> 550 5.7.1 Message rejected as spam by Content Filtering");
		} else {
			L("--> 250 <%s>, Recipient ok", to);
			L("<-- DATA");
			L("--> 354 Enter mail, end with <CRLF>.<CRLF>");
			*t += 50 + (int64_t)rng_below(r, 2000);
			L("Message size: %u bytes", size);
			L("Passing message through AntiVirus (Size: %u)...", size);
			L(" * Message is clean (no viruses found)");
			L("Passing message through Spam Filter (Size: %u)...", size);
			L(" * Message score: %u.%u (Not spam)", (unsigned)rng_below(r, 5),
			  (unsigned)rng_below(r, 10));
			L("--> 250 Ok, message saved <Message-ID: <%016" PRIx64 "@%s>>", rng_next(r),
			  strchr(who, '@') + 1);
		}
		L("<-- QUIT");
		L("--> 221 See ya in cyberspace");
		L("SMTP session %s (Bytes in/out: %u/%u)", spam ? "terminated" : "successful",
		  spam ? 300 : size + 200, 600 + (unsigned)rng_below(r, 400));
		break;
	}
	case LOG_SMTP_OUT:
		L("Session %08u; child %04u", sid, thr);
		L("Parsing message <D:\\MDaemon\\Queues\\Remote\\%s>", msg);
		L("*  From: %s", who);
		L("*  To: %s", to);
		L("*  Subject: %s", PICK(r, subjects));
		L("*  Size: %u bytes", size);
		L("*  Message-ID: <%016" PRIx64 "@example.com>", rng_next(r));
		L("Attempting SMTP connection to [%s]", strchr(to, '@') + 1);
		L("Resolving MX records for [%s] (DNS Server: 192.0.2.53)...", strchr(to, '@') + 1);
		L("*  P=010 S=000 D=%s MX=[mx1.%s] IP=[%s]", strchr(to, '@') + 1, strchr(to, '@') + 1, ip);
		L("Attempting SMTP connection to [%s:25]", ip);
		L("Waiting for socket connection...");
		L("*  Connection established (192.0.2.10:%u -> %s:25)", 1024 + (unsigned)rng_below(r, 60000), ip);
		L("Waiting for protocol to start...");
		L("<-- 220 mx1.%s ESMTP ready", strchr(to, '@') + 1);
		L("--> EHLO mail.example.com");
		L("<-- 250-mx1.%s", strchr(to, '@') + 1);
		L("<-- 250 STARTTLS");
		L("--> MAIL From:<%s> SIZE=%u", who, size);
		L("<-- 250 2.1.0 Ok");
		L("--> RCPT To:<%s>", to);
		L("<-- 250 2.1.5 Ok");
		L("--> DATA");
		L("<-- 354 End data with <CR><LF>.<CR><LF>");
		L("Sending <D:\\MDaemon\\Queues\\Remote\\%s> to [%s]", msg, ip);
		*t += 50 + (int64_t)rng_below(r, 3000);
		L("Transfer Complete");
		L("<-- 250 2.0.0 Ok: queued as %010" PRIX64, (uint64_t)(rng_next(r) & 0xffffffffffULL));
		L("--> QUIT");
		L("<-- 221 2.0.0 Bye");
		L("SMTP session successful (Bytes in/out: %u/%u)", 400 + (unsigned)rng_below(r, 300),
		  size + 300);
		break;
	case LOG_IMAP:
	case LOG_POP: {
		bool imap = svc == LOG_IMAP;
		unsigned exists = 10 + (unsigned)rng_below(r, 5000);
		L("Session %08u; child %04u", sid, thr);
		L("Accepting %s connection from [%s:%u] to [192.0.2.10:%u]", imap ? "IMAP" : "POP", ip,
		  1024 + (unsigned)rng_below(r, 60000), imap ? 993 : 995);
		if (imap) {
			unsigned cmds = 1 + (unsigned)rng_below(r, 6);
			L("--> * OK mail.example.com IMAP4rev1 MDaemon 23.5.2 ready");
			L("<-- a001 LOGIN %s ******", who);
			L("--> a001 OK LOGIN completed");
			L("<-- a002 SELECT \"INBOX\"");
			L("--> * FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft \\Recent)");
			L("--> * %u EXISTS", exists);
			L("--> * %u RECENT", (unsigned)rng_below(r, 5));
			L("--> * OK [UIDVALIDITY %u] UIDs valid", 1600000000u + (unsigned)rng_below(r, 100000000));
			L("--> * OK [UIDNEXT %u] Predicted next UID", exists + 1 + (unsigned)rng_below(r, 1000));
			L("--> a002 OK [READ-WRITE] SELECT completed");
			for (unsigned i = 0; i < cmds; i++) {
				unsigned tag = 3 + i;
				switch (rng_below(r, 4)) {
				case 0:
					L("<-- a%03u UID FETCH %u:* (FLAGS)", tag, exists);
					L("--> a%03u OK UID FETCH completed", tag);
					break;
				case 1:
					L("<-- a%03u UID FETCH %u (BODY.PEEK[] RFC822.SIZE)", tag, exists);
					L("--> a%03u OK UID FETCH completed", tag);
					break;
				case 2:
					L("<-- a%03u IDLE", tag);
					*t += (int64_t)rng_below(r, 600000);
					L("--> a%03u OK IDLE completed", tag);
					break;
				default:
					L("<-- a%03u UID STORE %u +FLAGS (\\Seen)", tag, exists);
					L("--> a%03u OK UID STORE completed", tag);
					break;
				}
			}
			L("<-- a%03u LOGOUT", 3 + cmds);
			L("--> * BYE IMAP engine signing off");
			L("--> a%03u OK LOGOUT completed", 3 + cmds);
			L("IMAP session complete, (Bytes in/out: %u/%u)", 200 + (unsigned)rng_below(r, 500),
			  (unsigned)rng_lognormal(r, 20000, 1.5));
		} else {
			L("--> +OK mail.example.com POP MDaemon 23.5.2 ready <%u@mail.example.com>", sid);
			L("<-- USER %s", who);
			L("--> +OK %s... User ok", who);
			L("<-- PASS ******");
			L("--> +OK %s has %u messages", who, exists % 40);
			L("<-- STAT");
			L("--> +OK %u %u", exists % 40, (exists % 40) * size);
			L("<-- QUIT");
			L("--> +OK mail.example.com POP3 server signing off");
			L("POP session complete, (Bytes in/out: 60/%u)", (exists % 40) * size + 200);
		}
		break;
	}
	case LOG_ROUTING:
		L("Parsing message <D:\\MDaemon\\Queues\\Local\\%s>", msg);
		L("*  From: %s", who);
		L("*  To: %s", to);
		L("*  Subject: %s", PICK(r, subjects));
		L("*  Message-ID: <%016" PRIx64 "@%s>", rng_next(r), strchr(who, '@') + 1);
		L("Start of IMAP message filter processing...");
		L("*  No filters matched");
		L("End of IMAP message filter processing");
		L("Message delivered to D:\\MDaemon\\Users\\example.com\\%.*s\\", (int)(strchr(to, '@') - to), to);
		break;
	case LOG_SPAM:
		L("Spam Filter processing %s (from %s)", msg, who);
		L(" * BAYES_00 (-1.9) Bayes spam probability is 0 to 1%%");
		L(" * SPF_PASS (-0.0) SPF: sender matches SPF record");
		L(" * DKIM_VALID (-0.1) Message has at least one valid DKIM or DK signature");
		L(" * HTML_MESSAGE (0.0) BODY: HTML included in message");
		L(" ---- ---------------------- --------------------------------------------------");
		L(" * Score: %u.%u / 5.0 (%s)", (unsigned)rng_below(r, 9), (unsigned)rng_below(r, 10),
		  rng_chance(r, 0.2) ? "SPAM" : "not spam");
		break;
	default:
		L("Memory in use: %u KB; threads: %u; queue: local %u, remote %u",
		  200000 + (unsigned)rng_below(r, 100000), 60 + (unsigned)rng_below(r, 40),
		  (unsigned)rng_below(r, 10), (unsigned)rng_below(r, 30));
		L("Account database check: %u accounts, %u domains", 100 + (unsigned)rng_below(r, 5),
		  2u);
		break;
	}
	L("----------");
#undef L
}

/* the files of one day, generated whole, then written by interleaved
   appends with an fsync after each, as several services' logs grow at once */
static int log_day_write(const struct opts *o, struct logday *ld, int dayno, uint64_t target,
			 int dirfd, uint64_t *files, uint64_t *bytes, struct hw_error *err)
{
	struct hw_buf bufs[LOG_N];
	int fds[LOG_N];
	char names[LOG_N][96];
	size_t off[LOG_N] = { 0 };
	int ret = -1;

	for (int s = 0; s < LOG_N; s++) {
		struct rng r;
		uint64_t want = (uint64_t)(target * log_services[s].share);
		int64_t t, day_ms = (ld->day_end - ld->day_start) * 1000;
		const double est = 1500;   /* bytes per session, about */

		hw_buf_init(&bufs[s]);
		fds[s] = -1;
		rng_init(&r, o->seed, S_LOG, (uint64_t)dayno, (uint64_t)s);
		t = ld->day_start * 1000 + (int64_t)rng_below(&r, 1000);
		snprintf(names[s], sizeof(names[s]), "MDaemon-%s-%s.log", ld->ymd, log_services[s].name);
		hw_buf_addf(&bufs[s], "-----------------------------------------------------------"
			    "-----------\r\nMDaemon PRO v23.5.2 %s log for %s\r\n"
			    "-----------------------------------------------------------"
			    "-----------\r\n", log_services[s].name, ld->prefix);
		while (bufs[s].len < want) {
			/* spread the sessions over the day: the mean gap is the
			   time left over the sessions still to come */
			double left = (double)(want - bufs[s].len) / est;
			int64_t end_ms = ld->day_start * 1000 + day_ms;
			double gap = (double)(end_ms - t) / (left > 1 ? left : 1);
			t += (int64_t)(gap * -log(1.0 - rng_unit(&r)));
			if (t >= end_ms)
				t = end_ms - 1 - (int64_t)rng_below(&r, 1000);
			log_session(&r, ld, s, &bufs[s], &t);
		}
	}
	for (int s = 0; s < LOG_N; s++) {
		fds[s] = hw_io_openat(dirfd, names[s], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				      O_CLOEXEC, 0644);
		if (fds[s] < 0) {
			char *pp = hw_path_join(o->logs, names[s]);
			hw_error_sys(err, "open", pp);
			free(pp);
			goto out;
		}
	}
	for (bool more = true; more;) {
		more = false;
		for (int s = 0; s < LOG_N; s++) {
			size_t c = bufs[s].len - off[s];
			const char *call = NULL;
			if (c == 0)
				continue;
			if (c > LOG_CHUNK)
				c = LOG_CHUNK;
			if (hw_io_write_all(fds[s], bufs[s].data + off[s], c) < 0)
				call = "write";
			else if (hw_io_fsync(fds[s]) < 0)
				call = "fsync";
			if (call != NULL) {
				char *pp = hw_path_join(o->logs, names[s]);
				hw_error_sys(err, call, pp);
				free(pp);
				goto out;
			}
			off[s] += c;
			more |= off[s] < bufs[s].len;
		}
	}
	for (int s = 0; s < LOG_N; s++) {
		char *pp = hw_path_join(o->logs, names[s]);
		int r = set_mtime(fds[s], ld->mtime, pp, err);
		free(pp);
		if (r < 0)
			goto out;
		(*files)++;
		*bytes += bufs[s].len;
	}
	ret = 0;
out:
	for (int s = 0; s < LOG_N; s++) {
		if (fds[s] >= 0)
			close(fds[s]);
		hw_buf_release(&bufs[s]);
	}
	return ret;
}

static int logs_write(const struct opts *o, uint64_t *files, uint64_t *bytes, struct hw_error *err)
{
	struct logday *days = hw_calloc(o->log_days, sizeof(*days));
	double wsum = 0;
	int dirfd = -1, ret = -1;
	time_t now = (time_t)o->now;
	struct tm today;

	if (dir_prepare(o->logs, false, err) < 0)
		goto out;
	dirfd = open(o->logs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		hw_error_sys(err, "open", o->logs);
		goto out;
	}
	localtime_r(&now, &today);
	/* days[0] is the oldest, days[log_days - 1] today */
	for (uint64_t i = 0; i < o->log_days; i++) {
		struct logday *ld = &days[i];
		int back = (int)(o->log_days - 1 - i);
		struct tm tm = today, tn;
		struct rng r;
		time_t t0, t1;
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_mday -= back;
		tm.tm_isdst = -1;
		tn = tm;
		tn.tm_mday += 1;
		t0 = mktime(&tm);   /* normalises tm */
		t1 = mktime(&tn);
		ld->day_start = t0;
		ld->day_end = back == 0 ? (int64_t)now : (int64_t)t1;
		ld->mtime = back == 0 ? (int64_t)now : (int64_t)t1 - 1;
		snprintf(ld->ymd, sizeof(ld->ymd), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday);
		snprintf(ld->prefix, sizeof(ld->prefix), "%s %s", wdays[tm.tm_wday], ld->ymd);
		ld->session = 100000 + (uint32_t)i * 40000;
		rng_init(&r, o->seed, S_LOG, i, 1000);
		ld->weight = (tm.tm_wday == 0 || tm.tm_wday == 6 ? 0.35 : 1.0) * (0.8 + 0.4 * rng_unit(&r));
		if (back == 0) {
			double frac = (double)(now - t0) / DAY;
			ld->weight *= frac < 0.02 ? 0.02 : frac;
		}
		if (ld->day_end <= ld->day_start)
			ld->day_end = ld->day_start + 1;
		wsum += ld->weight;
	}
	for (uint64_t i = 0; i < o->log_days; i++) {
		uint64_t target = (uint64_t)(o->log_mb * 1048576.0 * days[i].weight / wsum);
		if (log_day_write(o, &days[i], (int)i, target, dirfd, files, bytes, err) < 0)
			goto out;
		if (o->verbose)
			fprintf(stderr, "mkstore: logs for %s\n", days[i].ymd);
	}
	ret = 0;
out:
	if (dirfd >= 0)
		close(dirfd);
	free(days);
	return ret;
}

/* ---- command line ---- */

static const char usage[] =
	"usage: bench/mkstore --out DIR [options]\n"
	"       bench/mkstore --logs DIR [--log-days N] [--log-mb N]\n"
	"\n"
	"Writes a realistic MDaemon-layout store for tests and benchmarks:\n"
	"DIR/<domain>/<mailbox>/ is the Inbox, other folders are \"Name.IMAP\"\n"
	"directories (nested), one md50000000001.msg file per message.\n"
	"\n"
	"  --out DIR          the store to create (new or empty directory)\n"
	"  --domains N        domains (default 2)\n"
	"  --mailboxes N      mailboxes in all, spread over the domains (default 10)\n"
	"  --messages N       messages in all, skewed over mailboxes and folders\n"
	"                     (default 1000)\n"
	"  --seed S           PRNG seed (default 1); same arguments, same bytes\n"
	"  --now EPOCH        the time the store is made at (default: now); fixes the\n"
	"                     date range (3 years up to the start of that UTC day)\n"
	"  --from-corpus DIR  lay out real messages instead (copied byte for byte,\n"
	"                     mtimes left at the time of the copy, as a migration):\n"
	"                     the Enron layout maildir/<user>/inbox/<N> becomes\n"
	"                     enron.com/<user>; any other tree: every regular file is\n"
	"                     a message, one mailbox per top-level directory.\n"
	"                     --mailboxes / --messages then cap what is taken.\n"
	"  --with-index       also write IMAP.MRK and HIWATER.MRK files\n"
	"  --fragment         write each folder's files interleaved, 4 KiB at a time\n"
	"                     with an fsync after each, so they end up fragmented\n"
	"  --logs DIR         write MDaemon-style daily logs into DIR\n"
	"  --log-days N       days of logs up to today, included (default 14)\n"
	"  --log-mb N         their total size in MiB, about (default 20)\n"
	"  -v, --verbose      progress on stderr\n"
	"  -h, --help         this help\n"
	"\n"
	"Prints a one-line summary. Exit: 0 ok, 64 usage, 65 unusable corpus,\n"
	"74 I/O error.\n";

static int parse_u64(const char *opt, const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-') {
		fprintf(stderr, "mkstore: %s: '%s' is not a number\n", opt, s);
		return -1;
	}
	return 0;
}

static void diag_stderr(void *ctx, enum hw_diag_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	fprintf(stderr, "mkstore: %s\n", msg);
}

int main(int argc, char **argv)
{
	enum { O_DOMAINS = 256, O_MAILBOXES, O_MESSAGES, O_SEED, O_CORPUS, O_INDEX, O_FRAGMENT,
	       O_LOGS, O_LOGDAYS, O_LOGMB, O_NOW };
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "domains", required_argument, NULL, O_DOMAINS },
		{ "mailboxes", required_argument, NULL, O_MAILBOXES },
		{ "messages", required_argument, NULL, O_MESSAGES },
		{ "seed", required_argument, NULL, O_SEED },
		{ "from-corpus", required_argument, NULL, O_CORPUS },
		{ "with-index", no_argument, NULL, O_INDEX },
		{ "fragment", no_argument, NULL, O_FRAGMENT },
		{ "logs", required_argument, NULL, O_LOGS },
		{ "log-days", required_argument, NULL, O_LOGDAYS },
		{ "log-mb", required_argument, NULL, O_LOGMB },
		{ "now", required_argument, NULL, O_NOW },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .domains = 2, .mailboxes = 10, .messages = 1000, .seed = 1,
			  .log_days = 14, .log_mb = 20, .now = -1 };
	struct plan p = { 0 };
	struct writer w = { .o = &o, .p = &p, .outfd = -1, .dirfd = -1 };
	struct hw_error err = { 0 };
	uint64_t log_files = 0, log_bytes = 0, v;
	double t0 = hw_monotonic();
	int c, rc = HW_EXIT_OK;

	while ((c = getopt_long(argc, argv, "o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o.out = optarg; break;
		case O_DOMAINS:
			if (parse_u64("--domains", optarg, &o.domains) < 0)
				return HW_EXIT_USAGE;
			o.domains_set = true;
			break;
		case O_MAILBOXES:
			if (parse_u64("--mailboxes", optarg, &o.mailboxes) < 0)
				return HW_EXIT_USAGE;
			o.mailboxes_set = true;
			break;
		case O_MESSAGES:
			if (parse_u64("--messages", optarg, &o.messages) < 0)
				return HW_EXIT_USAGE;
			o.messages_set = true;
			break;
		case O_SEED:
			if (parse_u64("--seed", optarg, &o.seed) < 0)
				return HW_EXIT_USAGE;
			break;
		case O_CORPUS: o.corpus = optarg; break;
		case O_INDEX: o.with_index = true; break;
		case O_FRAGMENT: o.fragment = true; break;
		case O_LOGS: o.logs = optarg; break;
		case O_LOGDAYS:
			if (parse_u64("--log-days", optarg, &o.log_days) < 0)
				return HW_EXIT_USAGE;
			break;
		case O_LOGMB: {
			char *end;
			o.log_mb = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(o.log_mb >= 0)) {
				fprintf(stderr, "mkstore: --log-mb: '%s' is not a size in MiB\n", optarg);
				return HW_EXIT_USAGE;
			}
			break;
		}
		case O_NOW:
			if (parse_u64("--now", optarg, &v) < 0)
				return HW_EXIT_USAGE;
			o.now = (int64_t)v;
			break;
		case 'v': o.verbose = true; break;
		case 'h':
			fputs(usage, stdout);
			return HW_EXIT_OK;
		default:
			fputs(usage, stderr);
			return HW_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mkstore: unexpected argument '%s'\n", argv[optind]);
		return HW_EXIT_USAGE;
	}
	if (o.out == NULL && o.logs == NULL) {
		fputs("mkstore: --out DIR or --logs DIR is required\n", stderr);
		fputs(usage, stderr);
		return HW_EXIT_USAGE;
	}
	if (o.out != NULL && o.corpus == NULL &&
	    (o.domains == 0 || o.mailboxes < o.domains || o.domains > 100000 ||
	     o.mailboxes > 10000000)) {
		fputs("mkstore: need 1 <= --domains <= --mailboxes\n", stderr);
		return HW_EXIT_USAGE;
	}
	if (o.log_days == 0 || o.log_days > 3660) {
		fputs("mkstore: --log-days must be 1..3660\n", stderr);
		return HW_EXIT_USAGE;
	}
	if (o.now < 0)
		o.now = (int64_t)time(NULL);
	hw_diag_set_sink(diag_stderr, NULL);

	if (o.out != NULL) {
		p.t_end = o.now - o.now % DAY;
		p.t_start = p.t_end - 3 * 365 * (int64_t)DAY;
		if (o.corpus != NULL) {
			if (plan_corpus(&p, &o, &err) < 0) {
				fprintf(stderr, "mkstore: %s\n", err.msg);
				rc = HW_EXIT_IOERR;
				goto out;
			}
			if (p.nmb == 0) {
				fprintf(stderr, "mkstore: %s: no messages found\n", o.corpus);
				rc = HW_EXIT_DATAERR;
				goto out;
			}
		} else {
			plan_generated(&p, &o);
		}
		for (size_t k = 0; k < GROUP_MAX; k++)
			hw_buf_init(&w.group[k].data);
		if (store_write(&w, &err) < 0) {
			fprintf(stderr, "mkstore: %s\n", err.msg);
			rc = HW_EXIT_IOERR;
			goto out;
		}
	}
	if (o.logs != NULL && logs_write(&o, &log_files, &log_bytes, &err) < 0) {
		fprintf(stderr, "mkstore: %s\n", err.msg);
		rc = HW_EXIT_IOERR;
		goto out;
	}
	if (o.out != NULL)
		printf("mkstore: %zu domains, %zu mailboxes, %" PRIu64 " folders, %" PRIu64
		       " messages, %" PRIu64 " bytes", p.ndomains, p.nmb, w.folders, w.messages,
		       w.bytes);
	if (o.logs != NULL)
		printf("%s%" PRIu64 " log files, %" PRIu64 " log bytes", o.out != NULL ? "; " :
		       "mkstore: ", log_files, log_bytes);
	printf(", %.2f s\n", hw_monotonic() - t0);
out:
	for (size_t k = 0; k < GROUP_MAX; k++)
		hw_buf_release(&w.group[k].data);
	free(w.recs);
	plan_release(&p);
	return rc;
}
