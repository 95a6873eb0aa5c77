import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ErrorNotice, Pager, StatusBadge, TextField } from "./ui";

describe("StatusBadge", () => {
  it("says the status in words, not only in colour", () => {
    render(<StatusBadge status="FAILING" />);
    const badge = screen.getByText("Failing").closest(".badge")!;
    expect(badge.className).toContain("badge--bad");
    expect(badge.getAttribute("data-status")).toBe("FAILING");
    expect(badge.getAttribute("title")).toContain("fails");
  });
});

describe("Pager", () => {
  it("disables what cannot be done and pages on click", () => {
    const onNext = vi.fn();
    const onPrevious = vi.fn();
    render(
      <Pager label="Accounts" index={0} pageSize={50} shown={50} totalCount={20_000} hasNext onPrevious={onPrevious} onNext={onNext} />,
    );
    expect(screen.getByRole("navigation", { name: "Accounts pages" })).toBeTruthy();
    expect(screen.getByText("1–50 of 20,000")).toBeTruthy();
    const previous = screen.getByRole("button", { name: "Previous" }) as HTMLButtonElement;
    const next = screen.getByRole("button", { name: "Next" }) as HTMLButtonElement;
    expect(previous.disabled).toBe(true);
    fireEvent.click(next);
    expect(onNext).toHaveBeenCalledOnce();
    expect(onPrevious).not.toHaveBeenCalled();
  });

  it("stops at the last page", () => {
    render(<Pager label="People" index={1} pageSize={50} shown={7} totalCount={57} hasNext={false} onPrevious={() => {}} onNext={() => {}} />);
    expect((screen.getByRole("button", { name: "Next" }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByRole("button", { name: "Previous" }) as HTMLButtonElement).disabled).toBe(false);
  });
});

describe("TextField", () => {
  it("ties its label, hint and error to the input", () => {
    render(<TextField label="Site" hint="such as acme.atlassian.net" error="not a Confluence site" />);
    const input = screen.getByLabelText("Site");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    const described = input.getAttribute("aria-describedby")!.split(" ").map((id) => document.getElementById(id)!.textContent);
    expect(described).toEqual(["such as acme.atlassian.net", "not a Confluence site"]);
  });
});

describe("ErrorNotice", () => {
  it("is an alert with a retry", () => {
    const retry = vi.fn();
    render(<ErrorNotice problem={{ kind: "network", title: "Cannot reach Vigil", detail: "Retry." }} onRetry={retry} />);
    expect(screen.getByRole("alert").textContent).toContain("Cannot reach Vigil");
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(retry).toHaveBeenCalledOnce();
  });
});
