import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import type { FhirSession } from './fhir.js';
import { Overview } from './pages/overview.js';
import { Review } from './pages/review.js';
import { Subject } from './pages/subject.js';
import { Worklist } from './pages/worklist.js';
import { useRoute, type Route } from './router.js';
import { resumeSession, roleOf, signIn, signOut, type Role } from './smart.js';
import './styles.css';

const ROLE_WORDS: Record<Role, string> = { recruitment: 'Recruitment coordinator', investigator: 'Investigator', statistician: 'Statistician / study lead' };

const NAV: readonly { readonly href: string; readonly label: string; readonly page: Route['page'] }[] = [
  { href: '#/worklist', label: 'Worklist', page: 'worklist' },
  { href: '#/review', label: 'Review queue', page: 'review' },
  { href: '#/overview', label: 'Study overview', page: 'overview' },
];

function App(props: { session: FhirSession }) {
  const route = useRoute();
  const role = roleOf(props.session.scopes);
  useEffect(() => {
    const titles: Record<Route['page'], string> = { worklist: 'Worklist', review: 'Review queue', subject: 'Subject', overview: 'Study overview', 'not-found': 'Not found' };
    document.title = `${titles[route.page]} · NCT04893161`;
  }, [route]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <p class="brand">NCT04893161 · belimumab in SLE</p>
        <nav aria-label="Pages">
          <ul>
            {NAV.map((n) => (
              <li key={n.href}>
                <a href={n.href} aria-current={route.page === n.page ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <p class="who">
          Signed in as <strong data-testid="role">{ROLE_WORDS[role]}</strong>{' '}
          <button
            type="button"
            class="link"
            onClick={() => void signOut()}
          >
            Sign out
          </button>
        </p>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} session={props.session} />
      </main>
    </>
  );
}

function Page(props: { route: Route; session: FhirSession }) {
  const { route, session } = props;
  switch (route.page) {
    case 'worklist':
      return <Worklist session={session} pseudonym={route.pseudonym} />;
    case 'review':
      return <Review session={session} />;
    case 'subject':
      return <Subject session={session} pseudonym={route.pseudonym} />;
    case 'overview':
      return <Overview session={session} />;
    case 'not-found':
      return (
        <>
          <h1>No such page</h1>
          <p>
            <a href="#/worklist">Go to the worklist</a>
          </p>
        </>
      );
  }
}

async function start(): Promise<void> {
  const root = document.getElementById('root');
  if (!root) return;
  const session = await resumeSession();
  if (!session) {
    await signIn();
    return;
  }
  // The static "Signing in…" line of index.html goes: preact renders into an empty root.
  root.replaceChildren();
  render(<App session={session} />, root);
}

void start();
